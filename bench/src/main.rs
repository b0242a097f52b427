//! modelgate's benchmark harness. Starts the release server on loopback with fresh data dirs,
//! drives it with wrk from a second process (pinned to the other core), measures the baselines
//! in the same run (an actix-web hello-world and raw sled writes), and writes
//! `docs/benchmarks.md`, `docs/benchmarks.json` and the data for `docs/benchmarks-scale.png`.
//!
//! Everything is bounded: each wrk run lasts `--secs` seconds, each load a fixed count.
//! Nothing here is a test: it measures and reports. The scenarios are `store` (the store and
//! management API), `gateway` (the data plane side by side), `soak` (failover under load) and
//! `translation` (what translating between the formats adds);
//! `wrk` drives the load, `launch` starts what is measured, `report` writes the figures.

use std::path::PathBuf;

mod gateway;
mod launch;
mod load;
mod peers;
mod report;
mod scoped;
#[path = "../../tests/support/server.rs"]
mod server;
mod side_by_side;
mod sled_raw;
mod soak;
mod store;
mod translation;
mod wrk;

use report::{Machine, Params, Report};

const TOKEN: &str = "bench-token-0123456789abcdef";
const SERVER_CORE: &str = "0";
const LOAD_CORE: &str = "1";

#[derive(Clone)]
struct Opts {
    secs: u64,
    million: bool,
    out: PathBuf,
    /// Only the data plane side by side (it rewrites only its own figures).
    gateway_only: bool,
    /// How this run was asked for, as `bench/run …`, for the reports.
    command: String,
    /// Only the failover soak, this many seconds long.
    soak: Option<u64>,
    /// Only the cost of translating between the formats.
    translation: bool,
}

const USAGE: &str = "usage: modelgate-bench [--secs N] [--no-million] [--gateway-only] [--soak SECS] [--translation] [--out DIR]";

fn main() {
    let mut opts = Opts {
        secs: 10,
        million: true,
        out: PathBuf::from("docs"),
        gateway_only: false,
        command: std::iter::once("bench/run".to_owned())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        soak: None,
        translation: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => opts.secs = args.next().and_then(|s| s.parse().ok()).expect("--secs N"),
            "--no-million" => opts.million = false,
            "--gateway-only" => opts.gateway_only = true,
            "--translation" => opts.translation = true,
            "--soak" => {
                opts.soak = Some(
                    args.next()
                        .and_then(|s| s.parse().ok())
                        .expect("--soak SECS"),
                )
            }
            "--out" => opts.out = PathBuf::from(args.next().expect("--out DIR")),
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("modelgate-bench: unknown argument {other}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(opts));
}

async fn run(opts: Opts) {
    let mut report = Report {
        machine: Machine::here(),
        params: Params {
            load_core: LOAD_CORE,
            log_level: "warn (access log off) unless a row says otherwise",
            models_per_provider: 10,
            seconds_per_run: opts.secs,
            server_core: SERVER_CORE,
            server_workers: 2,
        },
        ..Default::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    if let Some(secs) = opts.soak {
        soak::run(&opts, secs, &tmp.path().join("soak")).await;
        return;
    }
    if opts.translation {
        translation::run(&opts, &tmp.path().join("translation")).await;
        return;
    }
    if opts.gateway_only {
        gateway::run(&opts, &mut report, &tmp.path().join("gateway")).await;
        side_by_side::write(&opts, &report);
        return;
    }
    store::run(&opts, &mut report, tmp.path()).await;
    // The data plane last, with its own figures and markers: `--gateway-only` rewrites those
    // alone.
    report::write_store(&opts, &report);
    let mut data_plane = Report {
        machine: report.machine.clone(),
        params: report.params.clone(),
        ..Default::default()
    };
    gateway::run(&opts, &mut data_plane, &tmp.path().join("gateway")).await;
    side_by_side::write(&opts, &data_plane);
}
