//! The binary as an operator runs it: log formats and the log file, SIGHUP (reopen the log
//! file, re-read the log settings, keep serving), and the systemd unit in `contrib/`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use modelgate::cli::Cli;
use modelgate::config::Settings;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

#[path = "support/server.rs"]
mod server;

const BIN: &str = env!("CARGO_BIN_EXE_modelgate");
const TOKEN: &str = "ops-test-token-0123456789";
const UNIT: &str = include_str!("../contrib/modelgate.service");

/// The binary with `config` and `data`, nothing inherited that would change what it logs.
fn command(dir: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(["--bind", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("RUST_LOG")
        .env_remove("MODELGATE_BIND")
        .env_remove("MODELGATE_DATA_DIR")
        .env_remove("MODELGATE_PUBLIC_URL")
        .env_remove("MODELGATE_LOG_FORMAT")
        .env_remove("MODELGATE_LOG_FILE")
        .env("MODELGATE_ADMIN_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// Polls `probe` until it yields (the server writes on its own schedule), for up to 20 s.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited 20 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
}

/// SIGTERM, then the exit status: the drain and the final flush must still work.
fn terminate(child: &mut Child) -> ExitStatus {
    signal(child, Signal::SIGTERM);
    wait_for("the server to exit after SIGTERM", || {
        child.try_wait().unwrap()
    })
}

/// `GET /healthz`'s status, over a bare connection: these tests need no HTTP client.
fn healthz(port: u16) -> u16 {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// logrotate's way: rename the file, SIGHUP, and the server writes to a new file at the path,
/// while what it wrote before stays in the renamed one, appended after what was there.
#[test]
fn after_a_rename_and_sighup_the_log_goes_to_a_new_file_at_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("modelgate.log");
    std::fs::write(&log, "an earlier line\n").unwrap();
    let config = dir.path().join("modelgate.toml");
    std::fs::write(&config, format!("[log]\nfile = {:?}\n", log.display())).unwrap();
    let mut cmd = command(dir.path(), &config);
    let mut server = Killed(cmd.stderr(Stdio::piped()).spawn().unwrap());
    let port: u16 = wait_for("the start-up line in the log file", || {
        let text = read(&log);
        let rest = text.split("(port ").nth(1)?;
        rest.split(')').next()?.parse().ok()
    });
    assert_eq!(healthz(port), 200);
    let access = "\"GET /healthz\" 200";
    wait_for("the first access line", || {
        read(&log).contains(access).then_some(())
    });

    let rotated = dir.path().join("modelgate.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    signal(&server.0, Signal::SIGHUP);
    let reopened = wait_for("the SIGHUP line in a new file at the path", || {
        let text = read(&log);
        text.lines()
            .find(|l| l.contains("log file reopened"))
            .map(str::to_owned)
    });
    // The text format puts the record's key-values after the message.
    assert!(
        reopened.contains(" signal=SIGHUP filter=info format=text file=")
            && reopened.contains("modelgate.log"),
        "{reopened}"
    );
    assert_eq!(healthz(port), 200);
    wait_for("the second access line, in the new file", || {
        read(&log).contains(access).then_some(())
    });
    let status = terminate(&mut server.0);
    assert!(status.success(), "{status:?}");

    let old = read(&rotated);
    assert!(
        old.starts_with("an earlier line\n"),
        "not appended to:\n{old}"
    );
    assert!(
        old.contains("(port ") && old.matches(access).count() == 1,
        "{old}"
    );
    let new = read(&log);
    assert!(
        !new.contains("(port ") && new.matches(access).count() == 1,
        "{new}"
    );
    assert!(new.contains("store flushed"), "{new}");
    let mut stderr = String::new();
    for line in BufReader::new(server.0.stderr.take().unwrap()).lines() {
        stderr.push_str(&line.unwrap());
    }
    assert_eq!(stderr, "", "with a log file nothing goes to stderr");
}

/// SIGHUP re-reads the config's log settings: a new filter applies at once, a config broken
/// since start-up is reported and logging goes on as before, and the server never stops.
#[test]
fn sighup_rereads_the_log_filter_and_the_server_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modelgate.toml");
    std::fs::write(&config, "[log]\nformat = \"json\"\n").unwrap();
    let started = server::spawn(&mut command(dir.path(), &config));
    let mut server = Killed(started.child);
    let lines = || started.log.lock().unwrap().clone();
    let wait_for_line = |what: &str, find: &dyn Fn(&str) -> bool| {
        wait_for(what, || lines().into_iter().find(|l| find(l)))
    };
    assert_eq!(healthz(started.port), 200);
    wait_for_line("the first access line", &|l| l.contains("GET /healthz"));

    let quiet = "info,actix_web::middleware::logger=warn";
    std::fs::write(
        &config,
        format!("[log]\nformat = \"json\"\nlevel = \"{quiet}\"\n"),
    )
    .unwrap();
    signal(&server.0, Signal::SIGHUP);
    let reopened = wait_for_line("the SIGHUP line", &|l| l.contains("log file reopened"));
    let reopened: Value = serde_json::from_str(&reopened).unwrap();
    assert_eq!(reopened["signal"], "SIGHUP", "{reopened}");
    assert_eq!(reopened["filter"], quiet, "{reopened}");
    assert_eq!(reopened["format"], "json", "{reopened}");
    assert_eq!(reopened["file"], "stderr", "{reopened}");
    assert_eq!(reopened["target"], "modelgate", "{reopened}");
    assert_eq!(healthz(started.port), 200, "SIGHUP must not end the server");

    std::fs::write(&config, "[log]\nformat = \"xml\"\n").unwrap();
    signal(&server.0, Signal::SIGHUP);
    let refused = wait_for_line("the refused re-read", &|l| {
        l.contains("config was not re-read")
    });
    assert!(refused.contains("log.format"), "{refused}");
    assert_eq!(healthz(started.port), 200);

    let status = terminate(&mut server.0);
    assert!(status.success(), "{status:?}");
    // The reader thread has the pipe's last lines once it closes: wait for the flush line.
    wait_for_line("the final flush", &|l| l.contains("store flushed"));
    let lines = lines();
    for line in &lines {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not one JSON object a line: {line}");
    }
    let access: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("GET /healthz"))
        .collect();
    assert_eq!(
        access.len(),
        1,
        "the new filter hides access lines: {access:?}"
    );
}

/// The `ExecStart=` line of `contrib/modelgate.service`, split into its words.
fn exec_start() -> Vec<String> {
    let lines: Vec<&str> = UNIT
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStart="))
        .collect();
    assert_eq!(lines.len(), 1, "one ExecStart line");
    // systemd's quoting and specifiers would need a real parser; the unit uses neither.
    assert!(
        !lines[0].contains(['"', '\'', '\\', '%', '$']),
        "{}",
        lines[0]
    );
    lines[0]
        .trim_start_matches(['-', '@', ':', '+', '!'])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_unit_files_exec_start_parses_with_the_binarys_flags() {
    let args = exec_start();
    assert!(
        args[0].starts_with('/') && args[0].ends_with("/modelgate"),
        "{args:?}"
    );
    let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(cli.command.is_none(), "ExecStart serves");
    // The data dir is systemd's StateDirectory and wins over the config file's ./data.
    assert!(UNIT.lines().any(|l| l == "StateDirectory=modelgate"));
    let mut overrides = cli.overrides();
    assert!(overrides.config_file.as_ref().unwrap().is_absolute());
    overrides.config_file = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"));
    let settings = Settings::load(&overrides, |_| None).unwrap();
    assert_eq!(settings.storage.data_dir, Path::new("/var/lib/modelgate"));

    // The real binary's parser agrees: the same flags, then --help, exit 0 (an unknown flag
    // or a missing value would exit 2 before reaching it).
    let out = Command::new(BIN)
        .args(&args[1..])
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unknown = Command::new(BIN)
        .args(["--no-such-flag", "--help"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2), "the check above can fail");
}

#[test]
fn the_unit_file_runs_confined_and_reloads_with_sighup() {
    for directive in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "LimitNOFILE=65536",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(UNIT.lines().any(|l| l == directive), "no `{directive}`");
    }
}
