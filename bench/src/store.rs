//! The store and management scenarios, each against its baseline measured in the same run: raw
//! sled under durable creates, an actix-web hello-world under GET; then the store grown from
//! 1,000 to 1,000,000 providers with GET, list, PATCH, footprint and start-up at each size, and
//! a 100k store deleted whole.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::launch::{Server, bin, dir_size, pinned, rss_mib, stop, wait_ready};
use crate::load::{delete_all, load, lua_get, lua_list, lua_patch, lua_post, spread, version_sum};
use crate::report::{Check, Report, Run, ScalePoint};
use crate::wrk::{Load, wrk};
use crate::{Opts, sled_raw};

/// A wrk load against `server`.
fn on<'a>(
    server: &'a Server,
    scenario: &'a str,
    target: &'a str,
    concurrency: u32,
    store_size: u64,
    script: &'a str,
) -> Load<'a> {
    Load {
        scenario,
        target,
        concurrency,
        store_size,
        script,
        base: &server.base,
        pid: server.pid(),
    }
}

pub async fn run(opts: &Opts, report: &mut Report, tmp: &Path) {
    eprintln!("== raw sled");
    let sled = sled_raw::baselines(tmp);
    report.sled = sled.rows();
    let ceiling = hello_ceiling(opts, report).await;
    creates(opts, report, tmp, sled.two_tree_flush.ops_per_sec).await;
    growing_store(opts, report, tmp, &ceiling).await;
    delete_everything(report, tmp).await;
}

/// The HTTP ceiling: requests/s of the hello-world server at each concurrency GET runs at.
async fn hello_ceiling(opts: &Opts, report: &mut Report) -> HashMap<u32, f64> {
    eprintln!("== hello-world ceiling");
    let hello = pinned(Command::new(bin("bench-hello")).args(["127.0.0.1:18090", "2"]))
        .spawn()
        .expect("taskset and the binary exist");
    wait_ready("http://127.0.0.1:18090/hello/x").await;
    let mut ceiling = HashMap::new();
    for c in [32, 64] {
        let script = lua_get(&["01KAQ2Z8S4N6V1J7YQ3W5X9R2D".into()], "/hello/");
        let r = wrk(
            opts,
            Load {
                scenario: "hello-world",
                target: "GET /hello/{id}",
                concurrency: c,
                store_size: 0,
                script: &script,
                base: "http://127.0.0.1:18090",
                pid: hello.id(),
            },
        );
        ceiling.insert(c, r.rps);
        report.runs.push(r);
    }
    stop(hello);
    ceiling
}

/// Durable creates on a fresh store at concurrency 1, 16 and 64; `raw_two_tree` is raw sled's
/// rate for the same durable write.
async fn creates(opts: &Opts, report: &mut Report, tmp: &Path, raw_two_tree: f64) {
    eprintln!("== POST (durable) on a fresh store");
    let mut rates = HashMap::new();
    let server = Server::start(&tmp.join("post"), "warn").await;
    for (i, c) in [1u32, 16, 64].into_iter().enumerate() {
        let script = lua_post(&format!("r{i}"));
        let r = wrk(
            opts,
            on(&server, "create", "POST /providers", c, 0, &script),
        );
        rates.insert(c, (r.rps, r.p99_ms));
        report.runs.push(r);
    }
    server.stop();
    let (c1, _) = rates[&1];
    let (c64, p99_64) = rates[&64];
    report.checks.push(Check::judged(
        "POST at concurrency 64 ≥ 2× the server's own rate at concurrency 1",
        format!("{:.2}×", c64 / c1),
        c64 >= 2.0 * c1,
    ));
    report.checks.push(Check::judged(
        "POST p99 at concurrency 64 under 25 ms",
        format!("{p99_64:.1} ms"),
        p99_64 < 25.0,
    ));
    report.checks.push(Check::shown(
        "POST at 64 as a ratio of raw sled two-tree transaction + flush per write (1 writer)",
        format!("{:.2}×", c64 / raw_two_tree),
    ));
}

/// One store grown through each size; at each, GET at 32 and 64 against the hello-world
/// `ceiling` and list at 1 and 16; PATCH at 1,000; footprint and restart at 100,000.
async fn growing_store(opts: &Opts, report: &mut Report, tmp: &Path, ceiling: &HashMap<u32, f64>) {
    eprintln!("== the growing store: GET and list at each size");
    let dir = tmp.join("main");
    let mut server = Server::start(&dir, "warn").await;
    let idle_rss = rss_mib(server.pid());
    report.footprint.insert("rss_idle_mib", idle_rss);
    let mut ids: Vec<String> = Vec::new();
    let sizes: &[u64] = if opts.million {
        &[1_000, 10_000, 100_000, 1_000_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    let mut list_p99 = HashMap::new();
    for &size in sizes {
        let started = Instant::now();
        let added = load(&server.base, ids.len() as u64, size - ids.len() as u64).await;
        eprintln!(
            "   loaded to {size} in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        ids.extend(added);
        let sample = spread(&ids, 2000);
        for c in [32, 64] {
            let script = lua_get(&sample, "/providers/");
            let mut r = wrk(
                opts,
                on(&server, "get", "GET /providers/{id}", c, size, &script),
            );
            let ratio = r.rps / ceiling[&c];
            if size == 100_000 || size == 1_000 {
                report.checks.push(Check::judged(
                    format!("GET at concurrency {c}, {size} providers ≥ 70% of hello-world"),
                    format!("{:.0}%", ratio * 100.0),
                    ratio >= 0.7,
                ));
            }
            r.target = format!("GET /providers/{{id}} ({:.0}% of ceiling)", 100.0 * ratio);
            report.scale.push(point("get", &r));
            report.runs.push(r);
        }
        // One client paging measures what a page costs; sixteen show the throughput.
        let cursors = spread(&ids[100.min(ids.len())..], 2000);
        for c in [1, 16] {
            let script = lua_list(&cursors);
            let target = "GET /providers?limit=100&beforeId=…";
            let r = wrk(opts, on(&server, "list", target, c, size, &script));
            if c == 1 {
                list_p99.insert(size, r.p99_ms);
            }
            report.scale.push(point("list", &r));
            report.runs.push(r);
        }
        match size {
            1_000 => patches(opts, report, &server, &ids).await,
            100_000 => server = footprint(opts, report, server, &dir, &sample).await,
            1_000_000 => {
                report
                    .footprint
                    .insert("data_dir_1m_mib", dir_size(&dir) as f64 / 1048576.0);
                report.footprint.insert("rss_1m_mib", rss_mib(server.pid()));
            }
            _ => {}
        }
    }
    server.stop();
    if let (Some(small), Some(big)) = (list_p99.get(&1_000), list_p99.get(&100_000)) {
        report.checks.push(Check::judged(
            "list p99 per page (one client paging) at 100,000 ≤ 1.5× its p99 at 1,000",
            format!("{big:.2} ms vs {small:.2} ms ({:.2}×)", big / small),
            *big <= 1.5 * small,
        ));
    }
}

fn point(scenario: &'static str, r: &Run) -> ScalePoint {
    ScalePoint {
        concurrency: r.concurrency,
        p99_ms: r.p99_ms,
        rps: r.rps,
        scenario,
        size: r.store_size,
    }
}

/// PATCHes, half of them on 10 hot providers: none may be lost.
async fn patches(opts: &Opts, report: &mut Report, server: &Server, ids: &[String]) {
    eprintln!("== PATCH, half on 10 hot providers");
    let script = lua_patch(ids, &ids[..10]);
    let before = version_sum(&server.base, ids).await;
    let target = "PATCH /providers/{id} (50% on 10 hot)";
    let r = wrk(
        opts,
        on(server, "patch", target, 32, ids.len() as u64, &script),
    );
    let after = version_sum(&server.base, ids).await;
    let acknowledged = r.requests - r.errors;
    report.checks.push(Check::judged(
        "PATCH: no lost update (versions applied ≥ PATCHes acknowledged)",
        format!("{} applied, {} acknowledged", after - before, acknowledged),
        after - before >= acknowledged,
    ));
    report.runs.push(r);
}

/// Memory loaded, under GET load and after a restart, the data dir's size and the start-up
/// time, at 100,000 providers; answers the restarted server.
async fn footprint(
    opts: &Opts,
    report: &mut Report,
    server: Server,
    dir: &Path,
    sample: &[String],
) -> Server {
    eprintln!("== footprint at 100k");
    let loaded_rss = rss_mib(server.pid());
    let script = lua_get(sample, "/providers/");
    let target = "GET /providers/{id} (RSS under load)";
    let under_load = wrk(opts, on(&server, "get", target, 64, 100_000, &script));
    let size_bytes = dir_size(dir);
    server.stop();
    let (server, startup) = Server::start_timed(dir, "warn").await;
    let restart_rss = rss_mib(server.pid());
    let peak = under_load.server_peak_rss_mib;
    report.checks.push(Check::judged(
        "RSS with 100,000 providers under 150 MiB",
        format!("{loaded_rss:.1} MiB after loading, {restart_rss:.1} MiB after a restart, {peak:.1} MiB peak under GET load"),
        loaded_rss < 150.0 && peak < 150.0,
    ));
    report.checks.push(Check::judged(
        "start-up with 100,000 providers (process start to /healthz 200) under 1 s",
        format!("{:.0} ms", startup.as_secs_f64() * 1000.0),
        startup < Duration::from_secs(1),
    ));
    let startup_ms = startup.as_secs_f64() * 1000.0;
    for (measure, value) in [
        ("rss_after_100k_mib", loaded_rss),
        ("rss_after_restart_100k_mib", restart_rss),
        ("rss_peak_under_get_load_mib", peak),
        ("data_dir_100k_mib", size_bytes as f64 / 1048576.0),
        ("startup_100k_ms", startup_ms),
    ] {
        report.footprint.insert(measure, value);
    }
    server
}

/// A 100k store deleted whole: what the data dir holds before and after.
async fn delete_everything(report: &mut Report, tmp: &Path) {
    eprintln!("== delete everything from a 100k store");
    let dir = tmp.join("delete");
    let server = Server::start(&dir, "warn").await;
    let ids = load(&server.base, 0, 100_000).await;
    let before = dir_size(&dir);
    delete_all(&server.base, &ids).await;
    let after = dir_size(&dir);
    server.stop();
    report
        .footprint
        .insert("data_dir_before_delete_mib", before as f64 / 1048576.0);
    report
        .footprint
        .insert("data_dir_after_delete_all_mib", after as f64 / 1048576.0);
}
