//! What every process test shares: the binary started on a free port with its own data dir,
//! run to its exit, or sent one request with the test token.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::server;

const BIN: &str = env!("CARGO_BIN_EXE_modelgate");
pub const TOKEN: &str = "process-test-token-0123456789";

pub fn command(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("MODELGATE_BIND")
        .env_remove("MODELGATE_DATA_DIR")
        .env_remove("MODELGATE_ADMIN_TOKEN")
        .env_remove("MODELGATE_PUBLIC_URL");
    cmd
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on a free port with `data` as data dir and waits until it listens.
    pub fn start(data: &Path, env: &[(&str, &str)]) -> Server {
        Server::spawn(data, env, None)
    }

    pub fn start_with_config(data: &Path, config: &Path) -> Server {
        Server::spawn(data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)], Some(config))
    }

    fn spawn(data: &Path, env: &[(&str, &str)], config: Option<&Path>) -> Server {
        let mut cmd = command(data.parent().unwrap());
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        cmd.args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .envs(env.iter().copied())
            .stdout(Stdio::null());
        let started = server::spawn(&mut cmd);
        Server {
            child: started.child,
            base: format!("http://127.0.0.1:{}", started.port),
            log: started.log,
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status (within 20 s).
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread drain the pipe.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log_text());
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Runs the binary to completion and returns (exit code, stderr).
pub fn run_to_exit(mut cmd: Command) -> (i32, String) {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends `req` with the test token: its status, and its body as JSON (`null` when it has none).
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.bearer_auth(TOKEN).send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}
