//! Starting and stopping what is measured, each pinned to its core: the release server with a
//! fresh data dir, the mock upstream, the other bench binaries; and what is read of a running
//! process (its RSS) or of a data dir (its size).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{LOAD_CORE, SERVER_CORE, TOKEN, server};

/// A bench binary built next to this one.
pub fn bin(name: &str) -> PathBuf {
    std::env::current_exe().unwrap().with_file_name(name)
}

/// The Rust mock upstream (`bench-upstream`) on `addr`, on the load core.
pub fn mock_upstream(addr: &str) -> Child {
    Command::new("taskset")
        .args(["-c", LOAD_CORE])
        .arg(bin("bench-upstream"))
        .arg(addr)
        .spawn()
        .expect("taskset and the mock exist")
}

/// modelgate under test.
pub struct Server {
    child: Child,
    pub base: String,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub async fn start(dir: &Path, log: &str) -> Server {
        Server::start_timed(dir, log).await.0
    }

    /// Starts the release binary pinned to the server core; answers with the time from spawn
    /// to the first `/healthz` 200.
    pub async fn start_timed(dir: &Path, log: &str) -> (Server, Duration) {
        let started = Instant::now();
        // The start-up line (modelgate's own `info`) names the port; the access log stays at
        // `log`.
        let spawned = server::spawn(&mut pinned(
            Command::new(bin("modelgate"))
                .args(["--bind", "127.0.0.1:0", "--data-dir"])
                .arg(dir)
                .env("MODELGATE_ADMIN_TOKEN", TOKEN)
                .env(
                    "RUST_LOG",
                    format!("{log},modelgate=info,modelgate::proxy={log}"),
                ),
        ));
        let base = format!("http://127.0.0.1:{}", spawned.port);
        wait_ready(&format!("{base}/healthz")).await;
        let elapsed = started.elapsed();
        let (child, log) = (spawned.child, spawned.log);
        (Server { child, base, log }, elapsed)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server, and repeats what it logged at `ERROR`, if anything: a figure taken
    /// while the server was failing is not a figure.
    pub fn stop(self) {
        stop(self.child);
        for line in self.log.lock().unwrap().iter() {
            if line.contains(" ERROR ") || line.contains("panicked") {
                eprintln!("   server: {line}");
            }
        }
    }
}

/// `cmd` run on the server core.
pub fn pinned(cmd: &mut Command) -> Command {
    let program = cmd.get_program().to_owned();
    let mut pinned = Command::new("taskset");
    pinned
        .args(["-c", SERVER_CORE])
        .arg(program)
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    pinned
}

/// SIGTERM, then waits for the exit.
pub fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// Polls `url` until it answers 2xx, up to 120 s.
pub async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("{url} did not come up");
}

/// A process's resident set, in MiB; NaN once it is gone.
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Bytes in the files below `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            total += if p.is_dir() {
                dir_size(&p)
            } else {
                e.metadata().map_or(0, |m| m.len())
            };
        }
    }
    total
}
