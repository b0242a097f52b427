//! The failover soak: chat completions at concurrency 32 for a long while (`--soak SECS`,
//! 600 by default) through modelgate to a provider whose upstream fails one call in five, with
//! a healthy provider as the fallback model. Every call should succeed; what failover costs
//! shows in the p99 over the same load without failures; memory should not grow.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::launch::{Server, mock_upstream, rss_mib, stop, wait_ready};
use crate::report::{Machine, Report, Run, replace_between};
use crate::wrk::{LUA_DONE, Load, wrk};
use crate::{Opts, TOKEN};

const UPSTREAM: &str = "127.0.0.1:18094";

fn lua(body: &str) -> String {
    format!(
        "wrk.headers[\"Authorization\"] = \"Bearer {TOKEN}\"\nwrk.headers[\"Content-Type\"] = \
         \"application/json\"\n{LUA_DONE}request = function() return wrk.format(\"POST\", nil, \
         nil, '{body}') end\n"
    )
}

fn body(model: &str, fallbacks: &str) -> String {
    format!(
        r#"{{"model":"{model}"{fallbacks},"messages":[{{"role":"user","content":"Say hello."}}],"max_tokens":16}}"#
    )
}

pub async fn run(opts: &Opts, soak_secs: u64, dir: &Path) {
    eprintln!("== failover soak: {soak_secs} s at c=32, 20% of upstream calls failing");
    std::fs::create_dir_all(dir).unwrap();
    let mock = mock_upstream(UPSTREAM);
    let server = Server::start(&dir.join("modelgate"), "warn").await;
    wait_ready(&format!("{}/healthz", server.base)).await;
    let client = reqwest::Client::new();
    for (slug, model) in [("flaky-box", "flaky"), ("steady", "m")] {
        let created = client
            .post(format!("{}/providers", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({"providerId": slug, "name": slug,
                          "baseUrl": format!("http://{UPSTREAM}"), "models": [{"modelId": model}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201, "{slug} registers");
    }
    let url = format!("{}/v1/chat/completions", server.base);
    let healthy = lua(&body("steady:m", ""));
    let flaky = lua(&body("flaky-box:flaky", r#","models":["steady:m"]"#));
    let short = Opts {
        secs: opts.secs,
        ..opts.clone()
    };
    let long = Opts {
        secs: soak_secs,
        ..opts.clone()
    };
    // Warm up, then the same load without failures as the baseline.
    let at_32 = |target, script| Load {
        scenario: "soak",
        target,
        concurrency: 32,
        store_size: 0,
        script,
        base: &url,
        pid: server.pid(),
    };
    wrk(&short, at_32("warm-up", &healthy));
    let baseline = wrk(&short, at_32("modelgate, no failures", &healthy));
    let rss_start = rss_mib(server.pid());
    let soak = wrk(
        &long,
        at_32("modelgate, 20% upstream failures, fallback model", &flaky),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_end = rss_mib(server.pid());
    server.stop();
    stop(mock);
    write(opts, soak_secs, &[baseline, soak], rss_start, rss_end);
}

fn write(opts: &Opts, soak_secs: u64, runs: &[Run], rss_start: f64, rss_end: f64) {
    let (baseline, soak) = (&runs[0], &runs[1]);
    let success = 100.0 * (soak.requests - soak.errors) as f64 / soak.requests.max(1) as f64;
    let mut md = format!(
        "## Failover soak\n\nMeasured with `{}`: {soak_secs} s at concurrency 32 through \
         modelgate to `flaky-box:flaky` (its upstream answers one call in five with a 500) with \
         `models: [\"steady:m\"]` as the fallback; the baseline is {} s of `steady:m` alone.\n\n\
         | run | requests | requests/s | p50 ms | p99 ms | errors |\n| --- | ---: | ---: | ---: | ---: | ---: |\n",
        opts.command, opts.secs
    );
    for r in runs {
        md.push_str(&format!(
            "| {} | {} | {:.0} | {:.3} | {:.3} | {} |\n",
            r.target, r.requests, r.rps, r.p50_ms, r.p99_ms, r.errors
        ));
    }
    md.push_str(&format!(
        "\nSuccess rate {success:.3}% (bar: 100% with one healthy candidate); p99 {:.3} ms vs \
         {:.3} ms without failures ({:+.3} ms added by failing over); server RSS {rss_start:.1} \
         MiB at the start of the soak, {rss_end:.1} MiB at its end, peak {:.1} MiB.\n",
        soak.p99_ms,
        baseline.p99_ms,
        soak.p99_ms - baseline.p99_ms,
        soak.server_peak_rss_mib
    ));
    eprintln!("{md}");
    std::fs::create_dir_all(&opts.out).unwrap();
    replace_between(&opts.out.join("benchmarks.md"), "soak", &md);
    let report = Report {
        machine: Machine::here(),
        runs: runs.to_vec(),
        footprint: [
            ("rss_start_mib", rss_start),
            ("rss_end_mib", rss_end),
            ("success_percent", success),
        ]
        .into(),
        ..Default::default()
    };
    std::fs::write(
        opts.out.join("benchmarks-soak.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
}
