//! The data-plane comparison as one table, for `docs/benchmarks.md` and for README (between its
//! `<!-- side-by-side:start -->` and `<!-- side-by-side:end -->` markers), so both always show
//! the figures of the last run.

use std::fmt::Write as _;
use std::path::Path;

use crate::gateway::{PLAIN, STREAMED, row_of, run_of};
use crate::peers::Peer;
use crate::report::{Report, bars_table, replace_between};
use crate::{LOAD_CORE, Opts, SERVER_CORE};

pub fn table(report: &Report) -> String {
    let mut md = String::from(
        "| target | c=1 req/s | c=1 p50 ms | c=32 req/s | c=32 p50 ms | c=32 p99 ms | c=64 req/s | c=32 ÷ forwarder | added p50 at c=1 | streamed c=32 req/s | stream first byte ms | first content ms | peak RSS MiB | errors |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let at = |peer, c| row_of(report, peer).and_then(|row| run_of(report, row, PLAIN, c));
    let forwarder = at(Peer::Forwarder, 32).map(|r| r.rps);
    let direct_p50 = at(Peer::Direct, 1).map(|r| r.p50_ms);
    let num =
        |v: Option<f64>, digits: usize| v.map_or("—".to_owned(), |v| format!("{v:.digits$}"));
    for row in &report.side_by_side {
        let name = row.target;
        let direct = row.peer == Peer::Direct;
        let (one, c32, c64) = (
            run_of(report, row, PLAIN, 1),
            run_of(report, row, PLAIN, 32),
            run_of(report, row, PLAIN, 64),
        );
        let s32 = run_of(report, row, STREAMED, 32);
        let errors: u64 = report
            .runs
            .iter()
            .filter(|r| r.target == name)
            .map(|r| r.errors)
            .sum::<u64>()
            + row.failed_streams as u64;
        let peak = report
            .runs
            .iter()
            .filter(|r| r.target == name)
            .map(|r| r.server_peak_rss_mib)
            .fold(f64::NAN, f64::max);
        let added = match (one, direct_p50, direct) {
            (Some(r), Some(d), false) => format!("+{:.0} µs", (r.p50_ms - d) * 1000.0),
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
            match (c32, forwarder, direct) {
                (Some(r), Some(f), false) => format!("{:.2}", r.rps / f),
                _ => "—".to_owned(),
            },
            num(s32.map(|r| r.rps), 0),
            num(Some(row.ttfb_ms), 2),
            num(Some(row.first_content_ms), 2),
            num(Some(peak).filter(|p| p.is_finite()), 0),
        )
        .unwrap();
    }
    for s in &report.skipped {
        writeln!(md, "\nNot measured: **{}** — {}", s.target, s.why).unwrap();
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
        m.date, opts.command, m.cpu, m.cores, m.kernel, opts.secs,
    );
    let md = format!(
        "## Data plane, side by side\n\n{heading}{}\n### Bars\n\n{}\n### Every run\n\n{}",
        table(report),
        bars_table(&report.checks),
        every_run(report)
    );
    replace_between(&opts.out.join("benchmarks.md"), "side-by-side", &md);
    if opts.out == Path::new("docs") {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let summary = format!("{heading}{}\n{}", table(report), bars_table(&report.checks));
        replace_between(&readme, "side-by-side", &summary);
    }
    eprintln!(
        "wrote {0}/benchmarks-side-by-side.json and the side-by-side section of {0}/benchmarks.md",
        opts.out.display()
    );
}
