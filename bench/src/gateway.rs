//! The data plane's overhead: model calls sent straight to a mock upstream, and the same calls
//! through modelgate to it, in one run. The mock and wrk share the load core; modelgate has the
//! other to itself.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use crate::{LOAD_CORE, Opts, Report, Server, TOKEN, bin, lua_prelude, stop, wait_ready, wrk};

const UPSTREAM: &str = "127.0.0.1:18095";
const BODY: &str =
    r#"{"model":"mock:m","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}"#;

fn lua_call() -> String {
    format!(
        "{}request = function() return wrk.format(\"POST\", \"/v1/chat/completions\", nil, '{BODY}') end\n",
        lua_prelude()
    )
}

/// Time to the first byte of `n` streamed answers, one after another: the median, in ms.
async fn first_byte_p50(url: &str, n: usize) -> f64 {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let body = BODY.replace("\"max_tokens\":16", "\"max_tokens\":16,\"stream\":true");
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let res = client
            .post(url)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let mut stream = res.bytes_stream();
        stream.next().await.unwrap().unwrap();
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        while stream.next().await.is_some() {}
    }
    samples.sort_by(f64::total_cmp);
    samples[n / 2]
}

pub async fn run(opts: &Opts, report: &mut Report, dir: &Path) {
    eprintln!("== data plane: direct to the mock upstream, and through modelgate");
    let mock = Command::new("taskset")
        .args(["-c", LOAD_CORE])
        .arg(bin("bench-upstream"))
        .arg(UPSTREAM)
        .spawn()
        .expect("taskset and the mock exist");
    let direct = format!("http://{UPSTREAM}");
    let probe = reqwest::Client::new();
    for _ in 0..200 {
        if probe.post(format!("{direct}/ready")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let server = Server::start(dir, "warn").await;
    wait_ready(&format!("{}/healthz", server.base), None).await;
    let created = probe
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"providerId": "mock", "name": "bench mock", "baseUrl": direct}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "the mock provider registers");

    let script = lua_call();
    let mut rates = std::collections::HashMap::new();
    for c in [1u32, 32, 64] {
        let straight = wrk(
            opts,
            "gateway",
            "direct to mock",
            c,
            0,
            &script,
            &direct,
            mock.id(),
        );
        let through = wrk(
            opts,
            "gateway",
            "through modelgate",
            c,
            0,
            &script,
            &server.base,
            server.pid(),
        );
        assert_eq!(through.errors, 0, "calls through modelgate failed");
        rates.insert(c, (straight.clone(), through.clone()));
        report.runs.push(straight);
        report.runs.push(through);
    }
    let ttfb_direct = first_byte_p50(&format!("{direct}/v1/chat/completions"), 200).await;
    let ttfb_gateway = first_byte_p50(&format!("{}/v1/chat/completions", server.base), 200).await;
    server.stop();
    stop(mock);

    let (d1, g1) = &rates[&1];
    let (d32, g32) = &rates[&32];
    report.checks.push(json!({
        "bar": "data plane: added p50 at concurrency 1 (through modelgate − direct)",
        "value": format!("+{:.0} µs ({:.3} ms vs {:.3} ms)", (g1.p50_ms - d1.p50_ms) * 1000.0, g1.p50_ms, d1.p50_ms),
        "met": serde_json::Value::Null}));
    report.checks.push(json!({
        "bar": "data plane: throughput at concurrency 32 through modelgate ÷ direct",
        "value": format!("{:.2} ({:.0} vs {:.0} req/s)", g32.rps / d32.rps, g32.rps, d32.rps),
        "met": serde_json::Value::Null}));
    report.checks.push(json!({
        "bar": "data plane: stream time to first byte, p50 of 200 (through modelgate vs direct)",
        "value": format!("{ttfb_gateway:.3} ms vs {ttfb_direct:.3} ms (+{:.0} µs)", (ttfb_gateway - ttfb_direct) * 1000.0),
        "met": serde_json::Value::Null}));
}
