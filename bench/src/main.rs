//! modelgate's benchmark harness. Starts the release server on loopback with fresh data dirs,
//! drives it with wrk from a second process (pinned to the other core), measures the baselines
//! in the same run (an actix-web hello-world and raw sled writes), and writes
//! `docs/benchmarks.md`, `docs/benchmarks.json` and the data for `docs/benchmarks-scale.png`.
//!
//! Everything is bounded: each wrk run lasts `--secs` seconds, each load a fixed count.
//! Nothing here is a test: it measures and reports.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

mod gateway;
mod peers;
#[path = "../../tests/support/server.rs"]
mod server;
mod side_by_side;
mod soak;

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
}

#[derive(Serialize, Clone, Default)]
struct Run {
    scenario: String,
    target: String,
    concurrency: u32,
    store_size: u64,
    requests: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    errors: u64,
    server_peak_rss_mib: f64,
}

#[derive(Serialize, Default)]
struct Report {
    machine: Value,
    params: Value,
    runs: Vec<Run>,
    sled: Vec<Value>,
    checks: Vec<Value>,
    footprint: Value,
    scale: Vec<Value>,
    /// Per target of the data-plane comparison: time to first byte and first content byte.
    side_by_side: Vec<Value>,
    /// Targets that could not be measured, and why.
    skipped: Vec<Value>,
}

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
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--secs" => opts.secs = args.next().and_then(|s| s.parse().ok()).expect("--secs N"),
            "--no-million" => opts.million = false,
            "--gateway-only" => opts.gateway_only = true,
            "--soak" => {
                opts.soak = Some(
                    args.next()
                        .and_then(|s| s.parse().ok())
                        .expect("--soak SECS"),
                )
            }
            "--out" => opts.out = PathBuf::from(args.next().expect("--out DIR")),
            other => panic!(
                "unknown argument {other}; use --secs N, --no-million, --gateway-only, --soak SECS, --out DIR"
            ),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(opts));
}

/// The Rust mock upstream (`bench-upstream`) on `addr`, on the load core.
fn mock_upstream(addr: &str) -> Child {
    Command::new("taskset")
        .args(["-c", LOAD_CORE])
        .arg(bin("bench-upstream"))
        .arg(addr)
        .spawn()
        .expect("taskset and the mock exist")
}

fn bin(name: &str) -> PathBuf {
    std::env::current_exe().unwrap().with_file_name(name)
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

async fn run(opts: Opts) {
    let mut report = Report {
        machine: json!({
            "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
            "cores": sh("nproc"),
            "memory": sh("free -h | awk '/Mem:/ {print $2}'"),
            "kernel": sh("uname -r"),
            "rustc": sh("rustc --version"),
            "wrk": sh("wrk -v 2>&1 | head -1"),
            "date": sh("date -u +%Y-%m-%dT%H:%M:%SZ"),
        }),
        params: json!({
            "seconds_per_run": opts.secs,
            "server_core": SERVER_CORE,
            "load_core": LOAD_CORE,
            "server_workers": 2,
            "log_level": "warn (access log off) unless a row says otherwise",
            "models_per_provider": 10,
        }),
        ..Default::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    if let Some(secs) = opts.soak {
        soak::run(&opts, secs, &tmp.path().join("soak")).await;
        return;
    }
    if opts.gateway_only {
        gateway::run(&opts, &mut report, &tmp.path().join("gateway")).await;
        side_by_side::write(&opts, &report);
        return;
    }

    eprintln!("== raw sled");
    report.sled = sled_baselines(tmp.path());

    eprintln!("== hello-world ceiling");
    let hello = pinned(Command::new(bin("bench-hello")).args(["127.0.0.1:18090", "2"]))
        .spawn()
        .expect("taskset and the binary exist");
    wait_ready("http://127.0.0.1:18090/hello/x", None).await;
    let mut ceiling = std::collections::HashMap::new();
    for c in [32, 64] {
        let script = lua_get(&["01KAQ2Z8S4N6V1J7YQ3W5X9R2D".into()], "/hello/");
        let r = wrk(
            &opts,
            "hello-world",
            "GET /hello/{id}",
            c,
            0,
            &script,
            "http://127.0.0.1:18090",
            hello.id(),
        );
        ceiling.insert(c, r.rps);
        report.runs.push(r);
    }
    stop(hello);

    eprintln!("== POST (durable) on a fresh store");
    let mut post_rates = std::collections::HashMap::new();
    {
        let server = Server::start(&tmp.path().join("post"), "warn").await;
        for (i, c) in [1u32, 16, 64].into_iter().enumerate() {
            let script = lua_post(&format!("r{i}"));
            let r = wrk(
                &opts,
                "create",
                "POST /providers",
                c,
                0,
                &script,
                &server.base,
                server.pid(),
            );
            post_rates.insert(c, (r.rps, r.p99_ms));
            report.runs.push(r);
        }
        server.stop();
    }
    let raw_two_tree = report
        .sled
        .iter()
        .find(|s| s["name"] == "two-tree transaction + flush per write")
        .and_then(|s| s["ops_per_sec"].as_f64())
        .unwrap_or(f64::NAN);
    let (c1, _) = post_rates[&1];
    let (c64, p99_64) = post_rates[&64];
    report.checks.push(json!({
        "bar": "POST at concurrency 64 ≥ 2× the server's own rate at concurrency 1",
        "value": format!("{:.2}×", c64 / c1), "met": c64 >= 2.0 * c1}));
    report.checks.push(json!({
        "bar": "POST p99 at concurrency 64 under 25 ms",
        "value": format!("{p99_64:.1} ms"), "met": p99_64 < 25.0}));
    report.checks.push(json!({
        "bar": "POST at 64 as a ratio of raw sled two-tree transaction + flush per write (1 writer)",
        "value": format!("{:.2}×", c64 / raw_two_tree), "met": Value::Null}));

    eprintln!("== the growing store: GET and list at each size");
    let dir = tmp.path().join("main");
    let mut server = Server::start(&dir, "warn").await;
    let idle_rss = rss_mib(server.pid());
    let mut ids: Vec<String> = Vec::new();
    let sizes: Vec<u64> = if opts.million {
        vec![1_000, 10_000, 100_000, 1_000_000]
    } else {
        vec![1_000, 10_000, 100_000]
    };
    let mut list_p99 = std::collections::HashMap::new();
    for &size in &sizes {
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
                &opts,
                "get",
                "GET /providers/{id}",
                c,
                size,
                &script,
                &server.base,
                server.pid(),
            );
            if size == 100_000 || size == 1_000 {
                let ratio = r.rps / ceiling[&c];
                report.checks.push(json!({
                    "bar": format!("GET at concurrency {c}, {size} providers ≥ 70% of hello-world"),
                    "value": format!("{:.0}%", ratio * 100.0), "met": ratio >= 0.7}));
            }
            r.target = format!(
                "GET /providers/{{id}} ({:.0}% of ceiling)",
                100.0 * r.rps / ceiling[&c]
            );
            report.scale.push(json!({"scenario": "get", "concurrency": c, "size": size, "rps": r.rps, "p99_ms": r.p99_ms}));
            report.runs.push(r);
        }
        // One client paging measures what a page costs; sixteen show the throughput.
        let cursors = spread(&ids[100.min(ids.len())..], 2000);
        for c in [1, 16] {
            let script = lua_list(&cursors);
            let r = wrk(
                &opts,
                "list",
                "GET /providers?limit=100&beforeId=…",
                c,
                size,
                &script,
                &server.base,
                server.pid(),
            );
            if c == 1 {
                list_p99.insert(size, r.p99_ms);
            }
            report.scale.push(json!({"scenario": "list", "concurrency": c, "size": size, "rps": r.rps, "p99_ms": r.p99_ms}));
            report.runs.push(r);
        }

        if size == 1_000 {
            eprintln!("== PATCH, half on 10 hot providers");
            let hot: Vec<String> = ids[..10].to_vec();
            let script = lua_patch(&ids, &hot);
            let before = version_sum(&server.base, &ids).await;
            let r = wrk(
                &opts,
                "patch",
                "PATCH /providers/{id} (50% on 10 hot)",
                32,
                size,
                &script,
                &server.base,
                server.pid(),
            );
            let after = version_sum(&server.base, &ids).await;
            let acknowledged = r.requests - r.errors;
            report.checks.push(json!({
                "bar": "PATCH: no lost update (versions applied ≥ PATCHes acknowledged)",
                "value": format!("{} applied, {} acknowledged", after - before, acknowledged),
                "met": after - before >= acknowledged}));
            report.runs.push(r);
        }
        if size == 100_000 {
            eprintln!("== footprint at 100k");
            let loaded_rss = rss_mib(server.pid());
            let script = lua_get(&sample, "/providers/");
            let under_load = wrk(
                &opts,
                "get",
                "GET /providers/{id} (RSS under load)",
                64,
                size,
                &script,
                &server.base,
                server.pid(),
            );
            let size_bytes = dir_size(&dir);
            server.stop();
            let (restarted, startup) = Server::start_timed(&dir, "warn").await;
            server = restarted;
            let restart_rss = rss_mib(server.pid());
            report.checks.push(json!({
                "bar": "RSS with 100,000 providers under 150 MiB",
                "value": format!("{loaded_rss:.1} MiB after loading, {restart_rss:.1} MiB after a restart, {:.1} MiB peak under GET load", under_load.server_peak_rss_mib),
                "met": loaded_rss < 150.0 && under_load.server_peak_rss_mib < 150.0}));
            report.checks.push(json!({
                "bar": "start-up with 100,000 providers (process start to /healthz 200) under 1 s",
                "value": format!("{:.0} ms", startup.as_secs_f64() * 1000.0),
                "met": startup < Duration::from_secs(1)}));
            report.footprint = json!({
                "rss_idle_mib": idle_rss,
                "rss_after_100k_mib": loaded_rss,
                "rss_after_restart_100k_mib": restart_rss,
                "rss_peak_under_get_load_mib": under_load.server_peak_rss_mib,
                "data_dir_100k_mib": size_bytes as f64 / 1048576.0,
                "startup_100k_ms": startup.as_secs_f64() * 1000.0,
            });
        }
        if size == 1_000_000 {
            report.footprint["data_dir_1m_mib"] = json!(dir_size(&dir) as f64 / 1048576.0);
            report.footprint["rss_1m_mib"] = json!(rss_mib(server.pid()));
        }
    }
    server.stop();
    if let (Some(small), Some(big)) = (list_p99.get(&1_000), list_p99.get(&100_000)) {
        report.checks.push(json!({
            "bar": "list p99 per page (one client paging) at 100,000 ≤ 1.5× its p99 at 1,000",
            "value": format!("{big:.2} ms vs {small:.2} ms ({:.2}×)", big / small),
            "met": *big <= 1.5 * small}));
    }

    eprintln!("== delete everything from a 100k store");
    {
        let dir = tmp.path().join("delete");
        let server = Server::start(&dir, "warn").await;
        let ids = load(&server.base, 0, 100_000).await;
        let before = dir_size(&dir);
        delete_all(&server.base, &ids).await;
        let after = dir_size(&dir);
        server.stop();
        report.footprint["data_dir_before_delete_mib"] = json!(before as f64 / 1048576.0);
        report.footprint["data_dir_after_delete_all_mib"] = json!(after as f64 / 1048576.0);
    }

    // The data plane last, with its own figures and markers: `--gateway-only` rewrites those
    // alone.
    write_report(&opts, &report);
    let mut data_plane = Report {
        machine: report.machine.clone(),
        params: report.params.clone(),
        ..Default::default()
    };
    gateway::run(&opts, &mut data_plane, &tmp.path().join("gateway")).await;
    side_by_side::write(&opts, &data_plane);
}

// ---------- the server under test ----------

struct Server {
    child: Child,
    base: String,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    async fn start(dir: &Path, log: &str) -> Server {
        Server::start_timed(dir, log).await.0
    }

    /// Starts the release binary pinned to the server core; answers with the time from spawn
    /// to the first `/healthz` 200.
    async fn start_timed(dir: &Path, log: &str) -> (Server, Duration) {
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
        wait_ready(&format!("{base}/healthz"), Some(started)).await;
        let elapsed = started.elapsed();
        let (child, log) = (spawned.child, spawned.log);
        (Server { child, base, log }, elapsed)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server, and repeats what it logged at `ERROR`, if anything: a figure taken
    /// while the server was failing is not a figure.
    fn stop(self) {
        stop(self.child);
        for line in self.log.lock().unwrap().iter() {
            if line.contains(" ERROR ") || line.contains("panicked") {
                eprintln!("   server: {line}");
            }
        }
    }
}

/// `cmd` run on the server core.
fn pinned(cmd: &mut Command) -> Command {
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

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

async fn wait_ready(url: &str, _since: Option<Instant>) {
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

fn rss_mib(pid: u32) -> f64 {
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

fn dir_size(dir: &Path) -> u64 {
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

// ---------- load generation ----------

fn provider_body(n: u64) -> Value {
    json!({
        "providerId": format!("s{n}"),
        "name": format!("Provider {n}"),
        "baseUrl": "http://127.0.0.1:9/v1",
        "models": (0..10).map(|m| json!({"modelId": format!("model-{m}")})).collect::<Vec<_>>(),
    })
}

/// Creates `count` providers numbered from `from`, 64 at a time; answers their ids in order.
async fn load(base: &str, from: u64, count: u64) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut results: Vec<(u64, String)> = futures_util::stream::iter(from..from + count)
        .map(|n| {
            let client = client.clone();
            let url = format!("{base}/providers");
            async move {
                let res = client
                    .post(url)
                    .bearer_auth(TOKEN)
                    .json(&provider_body(n))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201, "load failed at {n}");
                let body: Value = res.json().await.unwrap();
                (n, body["id"].as_str().unwrap().to_owned())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    results.sort();
    let mut ids: Vec<String> = results.into_iter().map(|(_, id)| id).collect();
    ids.sort();
    ids
}

async fn delete_all(base: &str, ids: &[String]) {
    let client = reqwest::Client::new();
    futures_util::stream::iter(ids.iter().cloned())
        .map(|id| {
            let client = client.clone();
            let url = format!("{base}/providers/{id}");
            async move {
                let res = client.delete(url).bearer_auth(TOKEN).send().await.unwrap();
                assert_eq!(res.status(), 204);
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
}

/// Sum of every provider's version, read from its ETag (`"<id>-<version>"`).
async fn version_sum(base: &str, ids: &[String]) -> u64 {
    let client = reqwest::Client::new();
    let mut sum = 0;
    for id in ids {
        let res = client
            .get(format!("{base}/providers/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let etag = res.headers()["etag"]
            .to_str()
            .unwrap()
            .trim_matches('"')
            .to_owned();
        sum += etag.rsplit('-').next().unwrap().parse::<u64>().unwrap();
    }
    sum
}

fn spread(ids: &[String], n: usize) -> Vec<String> {
    let step = (ids.len() / n).max(1);
    ids.iter().step_by(step).take(n).cloned().collect()
}

// ---------- wrk ----------

const LUA_DONE: &str = r#"
done = function(summary, latency, requests)
  io.write(string.format('{"bench":1,"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#;

fn lua_list_of(name: &str, ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    format!("local {name} = {{{}}}\n", quoted.join(","))
}

fn lua_prelude() -> String {
    format!(
        "wrk.headers[\"Authorization\"] = \"Bearer {TOKEN}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         local next_tid = 1\nsetup = function(thread) thread:set(\"tid\", next_tid); next_tid = next_tid + 1 end\n\
         init = function() math.randomseed(os.time() + tid * 7919) end\n{LUA_DONE}"
    )
}

fn lua_get(ids: &[String], prefix: &str) -> String {
    format!(
        "{}{}request = function() return wrk.format(\"GET\", \"{prefix}\" .. ids[math.random(#ids)]) end\n",
        lua_prelude(),
        lua_list_of("ids", ids)
    )
}

fn lua_list(cursors: &[String]) -> String {
    format!(
        "{}{}request = function() return wrk.format(\"GET\", \"/providers?limit=100&beforeId=\" .. ids[math.random(#ids)]) end\n",
        lua_prelude(),
        lua_list_of("ids", cursors)
    )
}

fn lua_post(run: &str) -> String {
    let models: Vec<String> = (0..10)
        .map(|m| format!("{{\"modelId\":\"model-{m}\"}}"))
        .collect();
    format!(
        "{}local counter = 0\nrequest = function()\n  counter = counter + 1\n  \
         local body = string.format('{{\"providerId\":\"{run}-%d-%d\",\"name\":\"bench\",\"baseUrl\":\"http://127.0.0.1:9/v1\",\"models\":[{}]}}', tid, counter)\n  \
         return wrk.format(\"POST\", \"/providers\", nil, body)\nend\n",
        lua_prelude(),
        models.join(",")
    )
}

fn lua_patch(ids: &[String], hot: &[String]) -> String {
    format!(
        "{}{}{}local counter = 0\nrequest = function()\n  counter = counter + 1\n  \
         local id = (math.random() < 0.5) and hot[math.random(#hot)] or ids[math.random(#ids)]\n  \
         local field = (counter % 2 == 0) and \"name\" or \"metadata\"\n  \
         local body = string.format('{{\"%s\":\"v-%d-%d\"}}', field, tid, counter)\n  \
         return wrk.format(\"PATCH\", \"/providers/\" .. id, nil, body)\nend\n",
        lua_prelude(),
        lua_list_of("ids", ids),
        lua_list_of("hot", hot)
    )
}

#[allow(clippy::too_many_arguments)]
fn wrk(
    opts: &Opts,
    scenario: &str,
    target: &str,
    c: u32,
    size: u64,
    script: &str,
    base: &str,
    pid: u32,
) -> Run {
    let file = tempfile::Builder::new().suffix(".lua").tempfile().unwrap();
    std::fs::write(file.path(), script).unwrap();
    let threads = c.min(2);
    eprintln!("   {scenario} {target} c={c} size={size}");
    // Peak RSS of the server while the load runs.
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
    let line = stdout
        .lines()
        .find(|l| l.starts_with("{\"bench\""))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: Value = serde_json::from_str(line).unwrap();
    let requests = v["requests"].as_u64().unwrap();
    let secs = v["duration_us"].as_f64().unwrap() / 1e6;
    let ms = |k: &str| v[k].as_f64().unwrap() / 1000.0;
    Run {
        scenario: scenario.into(),
        target: target.into(),
        concurrency: c,
        store_size: size,
        requests,
        rps: requests as f64 / secs,
        p50_ms: ms("p50_us"),
        p99_ms: ms("p99_us"),
        p999_ms: ms("p999_us"),
        errors: v["status_errors"].as_u64().unwrap() + v["socket_errors"].as_u64().unwrap(),
        server_peak_rss_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
    }
}

// ---------- raw sled ----------

/// Write rates of sled alone, single writer, each bounded to 3 s: the durability ceilings.
fn sled_baselines(dir: &Path) -> Vec<Value> {
    let value = vec![7u8; 900];
    let mut out = Vec::new();
    let mut measure =
        |name: &str, f: &mut dyn FnMut(&sled::Db, &sled::Tree, &sled::Tree, u64) -> u64| {
            let path = dir.join(name.replace(' ', "-"));
            let db = sled::Config::new()
                .path(&path)
                .cache_capacity(64 << 20)
                .open()
                .unwrap();
            let (a, b) = (db.open_tree("a").unwrap(), db.open_tree("b").unwrap());
            let started = Instant::now();
            let mut ops = 0;
            let mut n = 0;
            while started.elapsed() < Duration::from_secs(3) {
                ops += f(&db, &a, &b, n);
                n += 1;
            }
            let rate = ops as f64 / started.elapsed().as_secs_f64();
            eprintln!("   {name}: {rate:.0} writes/s");
            out.push(json!({"name": name, "ops_per_sec": rate}));
        };
    measure("insert + flush per write", &mut |db, a, _, n| {
        a.insert(n.to_be_bytes(), value.as_slice()).unwrap();
        db.flush().unwrap();
        1
    });
    measure(
        "two-tree transaction + flush per write",
        &mut |db, a, b, n| {
            use sled::Transactional;
            (a, b)
                .transaction(|(a, b)| {
                    a.insert(&n.to_be_bytes(), value.as_slice())?;
                    b.insert(&n.to_be_bytes(), &n.to_be_bytes())?;
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .unwrap();
            db.flush().unwrap();
            1
        },
    );
    measure("insert, one flush per batch of 64", &mut |db, a, _, n| {
        for i in 0..64 {
            a.insert((n * 64 + i).to_be_bytes(), value.as_slice())
                .unwrap();
        }
        db.flush().unwrap();
        64
    });
    out
}

// ---------- the report ----------

fn write_report(opts: &Opts, report: &Report) {
    std::fs::create_dir_all(&opts.out).unwrap();
    std::fs::write(
        opts.out.join("benchmarks.json"),
        serde_json::to_string_pretty(report).unwrap(),
    )
    .unwrap();
    let mut md = String::new();
    let m = &report.machine;
    writeln!(md, "_Figures of the last `bench/run`; every figure comes from one run, so ratios compare like with like._\n").unwrap();
    writeln!(
        md,
        "Machine: {} ({} cores, {} RAM), Linux {}, {}, {}; run {}.",
        m["cpu"].as_str().unwrap_or("?").trim(),
        m["cores"].as_str().unwrap_or("?"),
        m["memory"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or("?"),
        m["rustc"].as_str().unwrap_or("?"),
        m["wrk"].as_str().unwrap_or("?"),
        m["date"].as_str().unwrap_or("?")
    )
    .unwrap();
    writeln!(md, "Server pinned to core {SERVER_CORE}, wrk to core {LOAD_CORE}; {} s per run; server with 2 workers and `RUST_LOG=warn`; providers carry 10 models each.\n", opts.secs).unwrap();
    writeln!(
        md,
        "## Bars\n\n| bar | measured | met |\n| --- | --- | --- |"
    )
    .unwrap();
    for c in &report.checks {
        let met = match c["met"].as_bool() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        writeln!(
            md,
            "| {} | {} | {met} |",
            c["bar"].as_str().unwrap(),
            c["value"].as_str().unwrap()
        )
        .unwrap();
    }
    writeln!(md, "\n## Store and management API runs\n\n| scenario | request | concurrency | providers | requests/s | p50 ms | p99 ms | p99.9 ms | errors | server peak RSS MiB |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |").unwrap();
    for r in &report.runs {
        writeln!(
            md,
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
            r.scenario,
            r.target,
            r.concurrency,
            r.store_size,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.errors,
            r.server_peak_rss_mib
        )
        .unwrap();
    }
    writeln!(md, "\n## Raw sled (single writer, 900-byte values)\n\n| write pattern | writes/s |\n| --- | ---: |").unwrap();
    for s in &report.sled {
        writeln!(
            md,
            "| {} | {:.0} |",
            s["name"].as_str().unwrap(),
            s["ops_per_sec"].as_f64().unwrap()
        )
        .unwrap();
    }
    writeln!(md, "\n## Footprint\n\n| measure | value |\n| --- | ---: |").unwrap();
    if let Some(f) = report.footprint.as_object() {
        for (k, v) in f {
            writeln!(md, "| {k} | {:.1} |", v.as_f64().unwrap_or(f64::NAN)).unwrap();
        }
    }
    writeln!(
        md,
        "\n## Scale\n\n![GET and list against store size](benchmarks-scale.png)\n"
    )
    .unwrap();
    // The figures go between markers; the prose around them (findings, how to read them) stays.
    replace_between(&opts.out.join("benchmarks.md"), "bench", &md);
    eprintln!(
        "wrote {0}/benchmarks.json and {0}/benchmarks.md",
        opts.out.display()
    );
}

/// Puts `content` between the `<!-- NAME:start -->` and `<!-- NAME:end -->` markers of the
/// file at `path` (appending both when it has none), leaving the rest as it is.
fn replace_between(path: &Path, name: &str, content: &str) {
    let (start, end) = (
        format!("<!-- {name}:start -->"),
        format!("<!-- {name}:end -->"),
    );
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let text = match (existing.find(&start), existing.find(&end)) {
        (Some(a), Some(b)) if a < b => {
            format!("{}{start}\n{content}{}", &existing[..a], &existing[b..])
        }
        _ => format!("{existing}{start}\n{content}{end}\n"),
    };
    std::fs::write(path, text).unwrap();
}
