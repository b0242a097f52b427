//! The data-plane comparison as one table, for `docs/benchmarks.md` and for README (between its
//! `<!-- side-by-side:start -->` and `<!-- side-by-side:end -->` markers), so both always show
//! the figures of the last run.

use std::fmt::Write as _;
use std::path::Path;

use crate::{LOAD_CORE, Opts, Report, Run, SERVER_CORE, replace_between};

fn find<'a>(report: &'a Report, target: &str, mode: &str, c: u32) -> Option<&'a Run> {
    report
        .runs
        .iter()
        .find(|r| r.target == target && r.scenario == mode && r.concurrency == c)
}

pub fn table(report: &Report) -> String {
    let mut md = String::from(
        "| target | c=1 req/s | c=1 p50 ms | c=32 req/s | c=32 p50 ms | c=32 p99 ms | c=64 req/s | c=32 ÷ forwarder | added p50 at c=1 | streamed c=32 req/s | stream first byte ms | first content ms | peak RSS MiB | errors |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let plain = "chat completion";
    let streamed = "chat completion, streamed";
    let forwarder = report
        .side_by_side
        .iter()
        .filter_map(|r| r["target"].as_str())
        .find(|t| t.starts_with("Rust forwarder"))
        .and_then(|t| find(report, t, plain, 32))
        .map(|r| r.rps);
    let direct_p50 = find(report, "direct to mock", plain, 1).map(|r| r.p50_ms);
    let num =
        |v: Option<f64>, digits: usize| v.map_or("—".to_owned(), |v| format!("{v:.digits$}"));
    for row in &report.side_by_side {
        let name = row["target"].as_str().unwrap_or("?");
        let (one, c32, c64) = (
            find(report, name, plain, 1),
            find(report, name, plain, 32),
            find(report, name, plain, 64),
        );
        let s32 = find(report, name, streamed, 32);
        let errors: u64 = report
            .runs
            .iter()
            .filter(|r| r.target == name)
            .map(|r| r.errors)
            .sum::<u64>()
            + row["failed_streams"].as_u64().unwrap_or(0);
        let peak = report
            .runs
            .iter()
            .filter(|r| r.target == name)
            .map(|r| r.server_peak_rss_mib)
            .fold(f64::NAN, f64::max);
        let added = match (one, direct_p50, name) {
            (_, _, "direct to mock") => "—".to_owned(),
            (Some(r), Some(d), _) => format!("+{:.0} µs", (r.p50_ms - d) * 1000.0),
            _ => "—".to_owned(),
        };
        writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {added} | {} | {} | {} | {} | {errors} |",
            num(one.map(|r| r.rps), 0),
            num(one.map(|r| r.p50_ms), 3),
            num(c32.map(|r| r.rps), 0),
            num(c32.map(|r| r.p50_ms), 2),
            num(c32.map(|r| r.p99_ms), 2),
            num(c64.map(|r| r.rps), 0),
            match (c32, forwarder, name) {
                (_, _, "direct to mock") => "—".to_owned(),
                (Some(r), Some(f), _) => format!("{:.2}", r.rps / f),
                _ => "—".to_owned(),
            },
            num(s32.map(|r| r.rps), 0),
            num(row["ttfb_ms"].as_f64(), 2),
            num(row["first_content_ms"].as_f64(), 2),
            num(Some(peak).filter(|p| p.is_finite()), 0),
        )
        .unwrap();
    }
    for s in &report.skipped {
        writeln!(
            md,
            "\nNot measured: **{}** — {}",
            s["target"].as_str().unwrap_or("?"),
            s["why"].as_str().unwrap_or("?")
        )
        .unwrap();
    }
    md
}

fn bars(report: &Report) -> String {
    let mut md = String::from("| bar | measured | met |\n| --- | --- | --- |\n");
    for c in &report.checks {
        let met = match c["met"].as_bool() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        let (bar, value) = (
            c["bar"].as_str().unwrap_or("?"),
            c["value"].as_str().unwrap_or("?"),
        );
        writeln!(md, "| {bar} | {value} | {met} |").unwrap();
    }
    md
}

fn every_run(report: &Report) -> String {
    let mut md = String::from(
        "| request | target | concurrency | requests/s | p50 ms | p99 ms | p99.9 ms | errors | peak RSS MiB |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in &report.runs {
        writeln!(
            md,
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {:.0} |",
            r.scenario,
            r.target,
            r.concurrency,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.errors,
            r.server_peak_rss_mib
        )
        .unwrap();
    }
    md
}

/// Writes the comparison: `benchmarks-side-by-side.json` and a section of `benchmarks.md` in
/// `opts.out`, and, for a run into `docs/`, README's table.
pub fn write(opts: &Opts, report: &Report) {
    std::fs::create_dir_all(&opts.out).unwrap();
    std::fs::write(
        opts.out.join("benchmarks-side-by-side.json"),
        serde_json::to_string_pretty(report).unwrap(),
    )
    .unwrap();
    let m = &report.machine;
    let heading = format!(
        "Measured {} with `{}`: {} ({} cores), Linux {}; the target under test pinned to core \
         {SERVER_CORE}, the mock upstream and wrk to core {LOAD_CORE}; {} s per run.\n\n",
        m["date"].as_str().unwrap_or("?"),
        opts.command,
        m["cpu"].as_str().unwrap_or("?").trim(),
        m["cores"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or("?"),
        opts.secs,
    );
    let md = format!(
        "## Data plane, side by side\n\n{heading}{}\n### Bars\n\n{}\n### Every run\n\n{}",
        table(report),
        bars(report),
        every_run(report)
    );
    replace_between(&opts.out.join("benchmarks.md"), "side-by-side", &md);
    if opts.out == Path::new("docs") {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let summary = format!("{heading}{}\n{}", table(report), bars(report));
        replace_between(&readme, "side-by-side", &summary);
    }
    eprintln!(
        "wrote {0}/benchmarks-side-by-side.json and the side-by-side section of {0}/benchmarks.md",
        opts.out.display()
    );
}
