//! The wrk driver: one bounded run of wrk on the load core with a Lua script, its summary read
//! back as a typed line, and the target's peak RSS sampled while the load runs.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;

use crate::launch::rss_mib;
use crate::report::Run;
use crate::{LOAD_CORE, Opts};

/// Ends every script: wrk's summary as one JSON line, the shape of `Summary`.
pub const LUA_DONE: &str = r#"
done = function(summary, latency, requests)
  io.write(string.format('{"bench":1,"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#;

/// The line `LUA_DONE` prints.
#[derive(Deserialize, Debug, PartialEq)]
struct Summary {
    requests: u64,
    duration_us: u64,
    status_errors: u64,
    socket_errors: u64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
}

impl Summary {
    /// The summary line among wrk's output, if it printed one.
    fn find(stdout: &str) -> Option<Result<Summary, serde_json::Error>> {
        stdout
            .lines()
            .find(|l| l.starts_with("{\"bench\""))
            .map(serde_json::from_str)
    }
}

/// What is measured and how: the labels of the `Run`, the load and where it goes.
pub struct Load<'a> {
    pub scenario: &'a str,
    pub target: &'a str,
    pub concurrency: u32,
    /// Providers in the store, for the store scenarios (0 elsewhere).
    pub store_size: u64,
    pub script: &'a str,
    pub base: &'a str,
    /// The process whose peak RSS is sampled.
    pub pid: u32,
}

/// Runs wrk for `opts.secs` seconds with `load`.
pub fn wrk(opts: &Opts, load: Load) -> Run {
    let Load {
        scenario,
        target,
        concurrency: c,
        store_size,
        script,
        base,
        pid,
    } = load;
    let file = tempfile::Builder::new().suffix(".lua").tempfile().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let threads = c.min(2);
    eprintln!("   {scenario} {target} c={c} size={store_size}");
    let running = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (running, peak) = (running.clone(), peak.clone());
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                let kib = (rss_mib(pid) * 1024.0) as u64;
                peak.fetch_max(kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let out = Command::new("taskset")
        .args([
            "-c",
            LOAD_CORE,
            "wrk",
            "-t",
            &threads.to_string(),
            "-c",
            &c.to_string(),
        ])
        .args(["-d", &format!("{}s", opts.secs), "--timeout", "10s", "-s"])
        .arg(file.path())
        .arg(base)
        .output()
        .expect("wrk runs");
    running.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = Summary::find(&stdout)
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .expect("wrk's summary line has the shape LUA_DONE prints");
    let ms = |us: u64| us as f64 / 1000.0;
    Run {
        scenario: scenario.into(),
        target: target.into(),
        concurrency: c,
        store_size,
        requests: summary.requests,
        rps: summary.requests as f64 / (summary.duration_us as f64 / 1e6),
        p50_ms: ms(summary.p50_us),
        p99_ms: ms(summary.p99_us),
        p999_ms: ms(summary.p999_us),
        errors: summary.status_errors + summary.socket_errors,
        server_peak_rss_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_is_read_from_among_wrks_output() {
        let stdout = "Running 1s test @ http://127.0.0.1:1\n  2 threads and 2 connections\n\
             {\"bench\":1,\"requests\":120,\"duration_us\":1000000,\"status_errors\":1,\
             \"socket_errors\":2,\"p50_us\":150,\"p99_us\":900,\"p999_us\":1200}\n";
        let summary = Summary::find(stdout).unwrap().unwrap();
        assert_eq!(
            summary,
            Summary {
                requests: 120,
                duration_us: 1_000_000,
                status_errors: 1,
                socket_errors: 2,
                p50_us: 150,
                p99_us: 900,
                p999_us: 1200,
            }
        );
        assert!(Summary::find("Running 1s test\n").is_none());
        assert!(
            Summary::find("{\"bench\":1,\"requests\":-1}")
                .unwrap()
                .is_err()
        );
    }
}
