use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use modelgate::auth::{MIN_TOKEN_CHARS, hash_token};
use modelgate::cli::{Cli, Command};
use modelgate::config::{ConfigError, Overrides, Settings};
use modelgate::logging::Logging;
use modelgate::master_key;
use modelgate::startup::{Application, open_store};
use tokio::signal::unix::{Signal, SignalKind, signal};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::HashToken) => print_token_hash(),
        Some(Command::RotateMasterKey) => rotate_master_key(&cli),
        None => serve(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("modelgate: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Settings from every source, and logging set up by them.
fn settings(cli: &Cli) -> Result<(Settings, Logging), String> {
    let settings = load(&cli.overrides()).map_err(|e| e.to_string())?;
    let logging = modelgate::logging::init(&settings.log).map_err(|e| e.to_string())?;
    Ok((settings, logging))
}

fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
    Settings::load(overrides, |k| std::env::var(k).ok())
}

fn serve(cli: &Cli) -> Result<(), String> {
    let (settings, logging) = settings(cli)?;
    actix_web::rt::System::new().block_on(async {
        // First of all: until this handler is in place, a SIGHUP ends the process.
        let hangups =
            signal(SignalKind::hangup()).map_err(|e| format!("cannot handle SIGHUP: {e}"))?;
        actix_web::rt::spawn(reload_on_hangup(hangups, cli.overrides(), logging));
        modelgate::startup::raise_open_file_limit();
        let app = Application::build(&settings).map_err(|e| e.to_string())?;
        log::info!(
            "modelgate {} listening on {} (port {}), data in {}; admin page at {}/",
            env!("CARGO_PKG_VERSION"),
            settings.server.bind,
            app.port(),
            settings.storage.data_dir.display(),
            modelgate::startup::local_url(&settings, app.port())
        );
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

/// SIGHUP (a closed terminal, `systemctl reload`, logrotate) never stops the server: it reopens
/// the log file and re-reads the log settings (the config file, then the environment as at
/// start, so `RUST_LOG` keeps winning). Whatever else changed takes effect at the next start.
async fn reload_on_hangup(mut hangups: Signal, overrides: Overrides, mut logging: Logging) {
    while hangups.recv().await.is_some() {
        let reread = load(&overrides);
        let wanted = match &reread {
            Ok(settings) => settings.log.clone(),
            // The log file is still reopened, or logrotate would leave it writing to the old one.
            Err(_) => logging.settings().clone(),
        };
        let applied = logging.apply(&wanted);
        let now = logging.settings();
        let file = now.file.as_ref().map(|f| f.display().to_string());
        match (applied, reread) {
            (Ok(()), Ok(_)) => log::info!(
                signal = "SIGHUP", filter = now.level.as_str(), format = now.format.name(),
                file = file.as_deref().unwrap_or("stderr");
                "log file reopened and log settings re-read; other settings take effect at the next start"
            ),
            (Ok(()), Err(e)) => log::error!(
                signal = "SIGHUP";
                "log file reopened, but the config was not re-read, logging goes on as before: {e}"
            ),
            (Err(e), _) => log::error!(
                signal = "SIGHUP";
                "logging goes on as before: {e}"
            ),
        }
    }
}

/// Needs the data dir to itself: a running server holds its lock, and this refuses to start.
fn rotate_master_key(cli: &Cli) -> Result<(), String> {
    let (settings, _logging) = settings(cli)?;
    let store = open_store(&settings).map_err(|e| e.to_string())?;
    let new_key = std::env::var("MODELGATE_NEW_MASTER_KEY").ok();
    let rotated =
        master_key::rotate(&settings, &store, new_key.as_deref()).map_err(|e| e.to_string())?;
    println!(
        "re-wrapped {} sealed secret(s) (provider keys, proxy passwords, credential headers) under the new master key, now in {}",
        rotated.rewrapped, rotated.now_in
    );
    Ok(())
}

fn print_token_hash() -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading the token from stdin: {e}"))?;
    let token = input.trim_end_matches(['\r', '\n']);
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(format!(
            "the token is shorter than {MIN_TOKEN_CHARS} characters; modelgate would refuse it"
        ));
    }
    println!("{}", hash_token(token));
    Ok(())
}
