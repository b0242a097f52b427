//! Starting the real binary on a port of its choosing and learning which: shared by the process
//! tests, the README test and the benchmark harness (each includes it with `#[path]`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A started server process, its port, and every line it has written to stderr so far.
pub struct Spawned {
    pub child: Child,
    pub port: u16,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Spawns `cmd` — modelgate (or a wrapper that execs it) given `--bind 127.0.0.1:0` and a log
/// level that lets its `info` start-up line through — keeps its stderr lines, and waits up to
/// 20 s for the start-up line, which names the port: `… (port N) …`. Background health checks
/// are off (`MODELGATE_HEALTH_ENABLED=false`) unless `cmd` sets that variable itself.
pub fn spawn(cmd: &mut Command) -> Spawned {
    // No background checks of providers unless the caller asks for them.
    if !cmd
        .get_envs()
        .any(|(name, _)| name == "MODELGATE_HEALTH_ENABLED")
    {
        cmd.env("MODELGATE_HEALTH_ENABLED", "false");
    }
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("(port ").nth(1) {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let _ = port_tx.send(port.parse::<u16>().unwrap_or(0));
            }
            sink.lock().unwrap().push(line);
        }
    });
    match port_rx.recv_timeout(Duration::from_secs(20)) {
        Ok(port) if port != 0 => Spawned { child, port, log },
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not start: {:?}", log.lock().unwrap());
        }
    }
}
