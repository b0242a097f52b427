//! The data plane side by side: the same chat completions sent straight to a mock upstream,
//! through a minimal Rust forwarder (the ceiling), through modelgate, and through each peer
//! gateway, one at a time, in one run. The mock and wrk share the load core; the target under
//! test has the other core to itself. Non-streaming and streaming at concurrency 1, 32 and 64;
//! then 200 paced streams one after another for the time to the first byte and to the first
//! content byte. Beside modelgate's row, `scoped` measures its access keys against its admin
//! token.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;

use crate::launch::{mock_upstream, stop};
use crate::peers::{self, Peer, Target};
use crate::report::{Check, Report, Run, SideBySideRow, Skipped};
use crate::wrk::{LUA_DONE, Load, wrk};
use crate::{Opts, scoped};

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

/// What `carries_content` reads of a streamed chunk.
#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Deserialize, Default)]
struct Delta {
    content: Option<String>,
}

/// Whether one SSE `data:` line carries text: a chunk whose first choice's delta has a
/// non-empty `content` (a role-only first chunk does not).
fn carries_content(line: &str) -> bool {
    line.strip_prefix("data:")
        .and_then(|d| serde_json::from_str::<Chunk>(d.trim()).ok())
        .and_then(|chunk| chunk.choices.into_iter().next())
        .and_then(|choice| choice.delta.content)
        .is_some_and(|content| !content.is_empty())
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

/// The scenario of the non-streamed runs, which the bars judge.
pub const PLAIN: &str = "chat completion";
pub const STREAMED: &str = "chat completion, streamed";

pub async fn measure(opts: &Opts, target: &Target, report: &mut Report) -> SideBySideRow {
    for (mode, stream) in [(PLAIN, false), (STREAMED, true)] {
        for c in CONCURRENCY {
            let script = lua(target, stream);
            let run = wrk(
                opts,
                Load {
                    scenario: mode,
                    target: target.name,
                    concurrency: c,
                    store_size: 0,
                    script: &script,
                    base: &target.url,
                    pid: target.pid,
                },
            );
            report.runs.push(run);
        }
    }
    let (ttfb_ms, first_content_ms, failed_streams) = first_bytes(target, STREAMS_FOR_TTFB).await;
    SideBySideRow {
        failed_streams,
        first_content_ms,
        peer: target.peer,
        target: target.name,
        ttfb_ms,
    }
}

/// The side-by-side row of `peer`, if it was measured.
pub fn row_of(report: &Report, peer: Peer) -> Option<&SideBySideRow> {
    report.side_by_side.iter().find(|r| r.peer == peer)
}

/// The run of `row`'s target in scenario `mode` at concurrency `c`.
pub fn run_of<'a>(report: &'a Report, row: &SideBySideRow, mode: &str, c: u32) -> Option<&'a Run> {
    report
        .runs
        .iter()
        .find(|r| r.target == row.target && r.scenario == mode && r.concurrency == c)
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
    for peer in [
        Peer::Forwarder,
        Peer::Modelgate,
        Peer::TensorZero,
        Peer::Noveum,
        Peer::Portkey,
        Peer::LiteLLM,
    ] {
        eprintln!("   starting {peer}");
        let started = match peer {
            Peer::Direct => unreachable!("the mock itself is measured first, never started"),
            Peer::ModelgateKeyed | Peer::ModelgateRouted | Peer::ModelgateScoped => {
                unreachable!("measured with modelgate, by `scoped`")
            }
            Peer::Forwarder => peers::forwarder(UPSTREAM, dir).await,
            Peer::Modelgate => peers::modelgate(UPSTREAM, dir).await,
            Peer::TensorZero => peers::tensorzero(UPSTREAM, dir).await,
            Peer::Noveum => peers::noveum(UPSTREAM, dir).await,
            Peer::Portkey => peers::portkey(UPSTREAM, dir).await,
            Peer::LiteLLM => peers::litellm(UPSTREAM, dir).await,
        };
        match started {
            Ok(target) => {
                rows.push(measure(opts, &target, report).await);
                target.stop();
            }
            Err(why) => {
                eprintln!("   {peer}: {why}");
                report.skipped.push(Skipped { target: peer, why });
            }
        }
        if peer == Peer::Modelgate {
            // Next to modelgate's own row, so the machine is in the same state for both.
            rows.extend(scoped::run(opts, report, dir, UPSTREAM).await);
        }
    }
    stop(mock);
    report.side_by_side = rows;
    bars(report);
    scoped::bars(report);
}

/// The issue's bars, as ratios within this run; a bar whose peer did not run is not judged.
fn bars(report: &mut Report) {
    let run = |peer, c| row_of(report, peer).and_then(|row| run_of(report, row, PLAIN, c));
    let rps = |peer, c| run(peer, c).map(|r| r.rps);
    let p50 = |peer| run(peer, 1).map(|r| r.p50_ms);
    let content = |peer| row_of(report, peer).map(|r| r.first_content_ms);
    let mut checks = Vec::new();
    let mg = rps(Peer::Modelgate, 32);
    for (peer, factor) in [
        (Peer::Noveum, 1.2),
        (Peer::TensorZero, 3.0),
        (Peer::Portkey, 20.0),
        (Peer::LiteLLM, 200.0),
    ] {
        if let (Some(m), Some(p)) = (mg, rps(peer, 32)) {
            checks.push(Check::judged(
                format!("throughput at c=32: modelgate ≥ {factor}× {peer}"),
                format!("{:.2}× ({m:.0} vs {p:.0} req/s)", m / p),
                m >= factor * p,
            ));
        }
    }
    if let (Some(m), Some(f)) = (mg, rps(Peer::Forwarder, 32)) {
        checks.push(Check::judged(
            "throughput at c=32: modelgate ÷ forwarder (stretch: ≥ 0.8)",
            format!("{:.2} ({m:.0} vs {f:.0} req/s)", m / f),
            m >= 0.8 * f,
        ));
    }
    if let (Some(m), Some(n), Some(d)) =
        (p50(Peer::Modelgate), p50(Peer::Noveum), p50(Peer::Direct))
    {
        checks.push(Check::judged(
            "added p50 at c=1 over direct: modelgate ≤ Noveum",
            format!("+{:.0} µs vs +{:.0} µs", (m - d) * 1000.0, (n - d) * 1000.0),
            m <= n,
        ));
    }
    if let (Some(m), Some(f)) = (content(Peer::Modelgate), content(Peer::Forwarder)) {
        checks.push(Check::judged(
            "stream time to first content byte: modelgate within 0.2 ms of the forwarder",
            format!("{m:.3} ms vs {f:.3} ms ({:+.0} µs)", (m - f) * 1000.0),
            m - f <= 0.2,
        ));
    }
    report.checks.extend(checks);
}

#[cfg(test)]
mod tests {
    use super::carries_content;

    #[test]
    fn only_a_chunk_with_text_in_its_first_delta_carries_content() {
        assert!(carries_content(
            r#"data: {"choices":[{"delta":{"content":"Hel"}}]}"#
        ));
        for line in [
            r#"data: {"choices":[{"delta":{"role":"assistant"}}]}"#,
            r#"data: {"choices":[{"delta":{"content":""}}]}"#,
            r#"data: {"choices":[]}"#,
            r#"data: {"usage":{"total_tokens":3}}"#,
            "data: [DONE]",
            ": keep-alive",
        ] {
            assert!(!carries_content(line), "{line}");
        }
    }
}
