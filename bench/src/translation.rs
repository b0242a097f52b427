//! What translating between the formats costs (issue 24), in one run with the untranslated
//! calls it is compared with: one modelgate with an OpenAI-only provider and an Anthropic-only
//! one, both at the mock upstream (which answers `/messages` in Anthropic's format). Each
//! provider is called natively and through a translation, so a translated call and its
//! baseline get the same upstream answer in the same format and differ only by the gateway's
//! work: chat completions at c=1 and c=32, a short stream (3 text events) and a long one
//! ([`LONG`] text events) at c=1. Added per call: the p50 at c=1 over the native call's;
//! added per stream event: how much more the long stream adds than the short one, over the
//! events between them. Every way is called once and its answer checked before it is
//! measured, so a figure never times an error.

use std::path::Path;

use serde_json::{Value, json};

use crate::launch::{Server, mock_upstream, stop, wait_ready};
use crate::report::{Check, Machine, Report, Run, bars_table, replace_between};
use crate::wrk::{LUA_DONE, Load, wrk};
use crate::{Opts, TOKEN};

const UPSTREAM: &str = "127.0.0.1:18093";
/// Text events in bench-upstream's `long` stream, and in its short ones.
const LONG: usize = 200;
const SHORT: usize = 3;

/// One way a call goes: the caller's route and the provider it names.
struct Way {
    name: &'static str,
    path: &'static str,
    provider: &'static str,
    /// The native way for the same provider, this one's baseline (`None`: it is native).
    baseline: Option<&'static str>,
}

const OPENAI_NATIVE: &str = "OpenAI call, OpenAI provider";
const ANTHROPIC_NATIVE: &str = "Anthropic call, Anthropic provider";

const WAYS: [Way; 4] = [
    Way {
        name: OPENAI_NATIVE,
        path: "/v1/chat/completions",
        provider: "oai",
        baseline: None,
    },
    Way {
        name: "Anthropic call, OpenAI provider (translated)",
        path: "/v1/messages",
        provider: "oai",
        baseline: Some(OPENAI_NATIVE),
    },
    Way {
        name: ANTHROPIC_NATIVE,
        path: "/v1/messages",
        provider: "ant",
        baseline: None,
    },
    Way {
        name: "OpenAI call, Anthropic provider (translated)",
        path: "/v1/chat/completions",
        provider: "ant",
        baseline: Some(ANTHROPIC_NATIVE),
    },
];

/// A scenario: its label, the model called, whether it streams, the concurrencies.
const SCENARIOS: [(&str, &str, bool, &[u32]); 3] = [
    ("call", "m", false, &[1, 32]),
    ("stream, 3 events", "m", true, &[1]),
    ("stream, 200 events", "long", true, &[1]),
];

fn body(way: &Way, model: &str, stream: bool) -> String {
    let stream = if stream { ",\"stream\":true" } else { "" };
    format!(
        r#"{{"model":"{}:{model}","messages":[{{"role":"user","content":"Say hello."}}],"max_tokens":16{stream}}}"#,
        way.provider
    )
}

/// The caller's headers: an Anthropic SDK's, or an OpenAI SDK's.
fn headers(way: &Way) -> Vec<(&'static str, String)> {
    let mut h = vec![("Content-Type", "application/json".to_owned())];
    match way.path {
        "/v1/messages" => {
            h.push(("x-api-key", TOKEN.to_owned()));
            h.push(("anthropic-version", "2023-06-01".to_owned()));
        }
        _ => h.push(("Authorization", format!("Bearer {TOKEN}"))),
    }
    h
}

fn lua(way: &Way, model: &str, stream: bool) -> String {
    let mut script = String::new();
    for (k, v) in headers(way) {
        script.push_str(&format!("wrk.headers[\"{k}\"] = \"{v}\"\n"));
    }
    script.push_str(LUA_DONE);
    script.push_str(&format!(
        "request = function() return wrk.format(\"POST\", nil, nil, '{}') end\n",
        body(way, model, stream)
    ));
    script
}

/// One call of `way`, checked: 200, in the caller's format, with all its text events.
async fn check(server: &Server, way: &Way, model: &str, stream: bool) -> Result<(), String> {
    let mut req = reqwest::Client::new()
        .post(format!("{}{}", server.base, way.path))
        .body(body(way, model, stream));
    for (k, v) in headers(way) {
        req = req.header(k, v);
    }
    let res = req.send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    let text = res.text().await.map_err(|e| e.to_string())?;
    let anthropic = way.path == "/v1/messages";
    let events = match (stream, anthropic) {
        (false, true) => usize::from(text.contains("\"type\":\"message\"")),
        (false, false) => usize::from(text.contains("\"chat.completion\"")),
        (true, true) => text.matches("\"text_delta\"").count(),
        // A role chunk may carry an empty content.
        (true, false) => {
            text.matches("\"content\":\"").count() - text.matches("\"content\":\"\"").count()
        }
    };
    let want = match (stream, model) {
        (false, _) => 1,
        (true, "long") => LONG,
        (true, _) => SHORT,
    };
    match (status.as_u16(), events == want) {
        (200, true) => Ok(()),
        _ => Err(format!(
            "{} {model} stream={stream}: {status}, {events} of {want} in {text:.400}",
            way.name
        )),
    }
}

async fn provider(server: &Server, slug: &str, format: &str, surface: &str) {
    let created = reqwest::Client::new()
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(
            &json!({"providerId": slug, "name": slug, "baseUrl": format!("http://{UPSTREAM}"),
                      "models": [{"modelId": "m"}, {"modelId": "long"}],
                      "supportedApiSurfaces": [{"format": format, "surface": surface}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{slug} registers");
}

pub async fn run(opts: &Opts, dir: &Path) {
    eprintln!("== translation: translated calls beside untranslated ones");
    std::fs::create_dir_all(dir).unwrap();
    let mock = mock_upstream(UPSTREAM);
    let server = Server::start(&dir.join("modelgate"), "warn").await;
    wait_ready(&format!("{}/healthz", server.base)).await;
    provider(&server, "oai", "openai", "chat-completions").await;
    provider(&server, "ant", "anthropic", "messages").await;
    for _ in 0..200 {
        if check(&server, &WAYS[0], "m", false).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    for way in &WAYS {
        for (_, model, stream, _) in SCENARIOS {
            if let Err(why) = check(&server, way, model, stream).await {
                server.stop();
                stop(mock);
                panic!("not measured, a call fails: {why}");
            }
        }
    }
    let mut runs = Vec::new();
    // Scenario by scenario, every way in turn, so each translated run and its baseline are
    // seconds apart.
    for (scenario, model, stream, concurrency) in SCENARIOS {
        for &c in concurrency {
            for way in &WAYS {
                let url = format!("{}{}", server.base, way.path);
                let script = lua(way, model, stream);
                runs.push(wrk(
                    opts,
                    Load {
                        scenario,
                        target: way.name,
                        concurrency: c,
                        store_size: 0,
                        script: &script,
                        base: &url,
                        pid: server.pid(),
                    },
                ));
            }
        }
    }
    server.stop();
    stop(mock);
    write(opts, &runs);
}

fn run_of<'a>(runs: &'a [Run], scenario: &str, target: &str, c: u32) -> Option<&'a Run> {
    runs.iter()
        .find(|r| r.scenario == scenario && r.target == target && r.concurrency == c)
}

/// The figures of each translated way against its baseline.
fn figures(runs: &[Run]) -> Vec<Check> {
    let mut checks = Vec::new();
    for way in &WAYS {
        let Some(base) = way.baseline else { continue };
        let added = |scenario| {
            let (t, b) = (
                run_of(runs, scenario, way.name, 1)?,
                run_of(runs, scenario, base, 1)?,
            );
            Some((t.p50_ms - b.p50_ms) * 1000.0)
        };
        if let Some(us) = added(SCENARIOS[0].0) {
            checks.push(Check::shown(
                format!("{}: added p50 per call at c=1", way.name),
                format!("{us:+.0} µs"),
            ));
        }
        if let (Some(t), Some(b)) = (
            run_of(runs, SCENARIOS[0].0, way.name, 32),
            run_of(runs, SCENARIOS[0].0, base, 32),
        ) {
            checks.push(Check::shown(
                format!("{}: throughput at c=32 ÷ untranslated", way.name),
                format!("{:.2} ({:.0} vs {:.0} req/s)", t.rps / b.rps, t.rps, b.rps),
            ));
        }
        if let (Some(short), Some(long)) = (added(SCENARIOS[1].0), added(SCENARIOS[2].0)) {
            let per_event = (long - short) / (LONG - SHORT) as f64;
            checks.push(Check::shown(
                format!("{}: added per stream event", way.name),
                format!(
                    "{per_event:+.2} µs (stream of {SHORT}: {short:+.0} µs, of {LONG}: {long:+.0} µs)"
                ),
            ));
        }
    }
    checks
}

fn write(opts: &Opts, runs: &[Run]) {
    let checks = figures(runs);
    let machine = Machine::here();
    let mut md = format!(
        "## Translation\n\nMeasured with `{}` ({}, {} cores, {}): one modelgate (core 0) with an \
         OpenAI-only and an Anthropic-only provider at the mock upstream; wrk and the mock on \
         core 1; {} s per run; each translated way beside the native call to the same provider, \
         scenario by scenario.\n\n{}\n| scenario | way | concurrency | requests/s | p50 ms | \
         p99 ms | errors |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
        opts.command,
        machine.date,
        machine.cores,
        machine.cpu,
        opts.secs,
        bars_table(&checks)
    );
    for r in runs {
        md.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {} |\n",
            r.scenario, r.target, r.concurrency, r.rps, r.p50_ms, r.p99_ms, r.errors
        ));
    }
    eprintln!("{md}");
    std::fs::create_dir_all(&opts.out).unwrap();
    replace_between(&opts.out.join("benchmarks.md"), "translation", &md);
    let report = Report {
        machine,
        runs: runs.to_vec(),
        checks,
        ..Default::default()
    };
    let json: Value = serde_json::to_value(&report).unwrap();
    std::fs::write(
        opts.out.join("benchmarks-translation.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
}
