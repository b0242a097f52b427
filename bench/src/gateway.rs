//! The data plane side by side: the same chat completions sent straight to a mock upstream,
//! through a minimal Rust forwarder (the ceiling), through modelgate, and through each peer
//! gateway, one at a time, in one run. The mock and wrk share the load core; the target under
//! test has the other core to itself. Non-streaming and streaming at concurrency 1, 32 and 64;
//! then 200 paced streams one after another for the time to the first byte and to the first
//! content byte.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::peers::{self, Target};
use crate::{LUA_DONE, Opts, Report, Run, mock_upstream, stop, wrk};

const UPSTREAM: &str = "127.0.0.1:18095";
const CONCURRENCY: [u32; 3] = [1, 32, 64];
const STREAMS_FOR_TTFB: usize = 200;

fn body(model: &str, stream: bool) -> String {
    let stream = if stream { ",\"stream\":true" } else { "" };
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"Say hello."}}],"max_tokens":16{stream}}}"#
    )
}

fn lua(target: &Target, stream: bool) -> String {
    let mut script = String::from("wrk.headers[\"Content-Type\"] = \"application/json\"\n");
    for (k, v) in &target.headers {
        script.push_str(&format!("wrk.headers[\"{k}\"] = \"{v}\"\n"));
    }
    script.push_str(LUA_DONE);
    script.push_str(&format!(
        "request = function() return wrk.format(\"POST\", nil, nil, '{}') end\n",
        body(&target.model, stream)
    ));
    script
}

/// Whether one SSE `data:` line carries text: a chunk whose first choice's delta has a
/// non-empty `content` (a role-only first chunk does not).
fn carries_content(line: &str) -> bool {
    line.strip_prefix("data:")
        .and_then(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .and_then(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(|s| !s.is_empty())
        })
        .unwrap_or(false)
}

/// Medians over `n` paced streams, one after another: (first byte, first content byte) in ms,
/// and how many streams failed.
async fn first_bytes(target: &Target, n: usize) -> (f64, f64, usize) {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let (mut first, mut content, mut failed) = (Vec::new(), Vec::new(), 0);
    for _ in 0..n {
        let mut req = client
            .post(&target.url)
            .header("content-type", "application/json")
            .body(body(&target.paced_model, true));
        for (k, v) in &target.headers {
            req = req.header(k, v);
        }
        let started = Instant::now();
        let Ok(res) = req.send().await else {
            failed += 1;
            continue;
        };
        if !res.status().is_success() {
            failed += 1;
            continue;
        }
        let mut stream = res.bytes_stream();
        let (mut seen, mut text, mut got_content) = (false, String::new(), false);
        while let Some(Ok(chunk)) = stream.next().await {
            if !seen {
                first.push(started.elapsed().as_secs_f64() * 1000.0);
                seen = true;
            }
            text.push_str(&String::from_utf8_lossy(&chunk));
            if !got_content && text.lines().any(carries_content) {
                content.push(started.elapsed().as_secs_f64() * 1000.0);
                got_content = true;
            }
        }
        failed += usize::from(!got_content);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    (median(first), median(content), failed)
}

async fn measure(opts: &Opts, target: &Target, report: &mut Report) -> Value {
    for (mode, stream) in [
        ("chat completion", false),
        ("chat completion, streamed", true),
    ] {
        for c in CONCURRENCY {
            let run = wrk(
                opts,
                mode,
                target.name,
                c,
                0,
                &lua(target, stream),
                &target.url,
                target.pid,
            );
            report.runs.push(run);
        }
    }
    let (first, content, failed) = first_bytes(target, STREAMS_FOR_TTFB).await;
    json!({"target": target.name, "ttfb_ms": first, "first_content_ms": content, "failed_streams": failed})
}

fn run_of<'a>(report: &'a Report, target: &str, mode: &str, c: u32) -> Option<&'a Run> {
    report
        .runs
        .iter()
        .find(|r| r.target.starts_with(target) && r.scenario == mode && r.concurrency == c)
}

pub async fn run(opts: &Opts, report: &mut Report, dir: &Path) {
    eprintln!("== data plane, side by side: direct, forwarder, modelgate, peers");
    std::fs::create_dir_all(dir).unwrap();
    let mock = mock_upstream(UPSTREAM);
    let direct = peers::direct(UPSTREAM, &mock);
    let probe = reqwest::Client::new();
    for _ in 0..200 {
        if probe.post(&direct.url).body("{}").send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let mut rows = vec![measure(opts, &direct, report).await];
    direct.stop();
    for name in [
        "forwarder",
        "modelgate",
        "tensorzero",
        "noveum",
        "portkey",
        "litellm",
    ] {
        eprintln!("   starting {name}");
        let started = match name {
            "forwarder" => peers::forwarder(UPSTREAM, dir).await,
            "modelgate" => peers::modelgate(UPSTREAM, dir).await,
            "tensorzero" => peers::tensorzero(UPSTREAM, dir).await,
            "noveum" => peers::noveum(UPSTREAM, dir).await,
            "portkey" => peers::portkey(UPSTREAM, dir).await,
            _ => peers::litellm(UPSTREAM, dir).await,
        };
        match started {
            Ok(target) => {
                rows.push(measure(opts, &target, report).await);
                target.stop();
            }
            Err(why) => {
                eprintln!("   {name}: {why}");
                report.skipped.push(json!({"target": name, "why": why}));
            }
        }
    }
    stop(mock);
    report.side_by_side = rows;
    bars(report);
}

/// The issue's bars, as ratios within this run; a bar whose peer did not run is not judged.
fn bars(report: &mut Report) {
    let json_mode = "chat completion";
    let rps = |t: &str, c| run_of(report, t, json_mode, c).map(|r| r.rps);
    let p50 = |t: &str| run_of(report, t, json_mode, 1).map(|r| r.p50_ms);
    let content = |t: &str| {
        report
            .side_by_side
            .iter()
            .find(|r| r["target"].as_str().is_some_and(|n| n.starts_with(t)))
            .and_then(|r| r["first_content_ms"].as_f64())
    };
    let mut checks = Vec::new();
    let mg = rps("modelgate", 32);
    for (peer, factor) in [
        ("Noveum", 1.2),
        ("TensorZero", 3.0),
        ("Portkey", 20.0),
        ("LiteLLM", 200.0),
    ] {
        if let (Some(m), Some(p)) = (mg, rps(peer, 32)) {
            checks.push(json!({"bar": format!("throughput at c=32: modelgate ≥ {factor}× {peer}"),
                "value": format!("{:.2}× ({m:.0} vs {p:.0} req/s)", m / p), "met": m >= factor * p}));
        }
    }
    if let (Some(m), Some(f)) = (mg, rps("Rust forwarder", 32)) {
        checks.push(
            json!({"bar": "throughput at c=32: modelgate ÷ forwarder (stretch: ≥ 0.8)",
            "value": format!("{:.2} ({m:.0} vs {f:.0} req/s)", m / f), "met": m >= 0.8 * f}),
        );
    }
    if let (Some(m), Some(n), Some(d)) = (p50("modelgate"), p50("Noveum"), p50("direct")) {
        checks.push(json!({"bar": "added p50 at c=1 over direct: modelgate ≤ Noveum",
            "value": format!("+{:.0} µs vs +{:.0} µs", (m - d) * 1000.0, (n - d) * 1000.0), "met": m <= n}));
    }
    if let (Some(m), Some(f)) = (content("modelgate"), content("Rust forwarder")) {
        checks.push(json!({"bar": "stream time to first content byte: modelgate within 0.2 ms of the forwarder",
            "value": format!("{m:.3} ms vs {f:.3} ms ({:+.0} µs)", (m - f) * 1000.0), "met": m - f <= 0.2}));
    }
    report.checks.extend(checks);
}
