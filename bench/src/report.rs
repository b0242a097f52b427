//! What a run found, typed as it is measured, and its write-up: `benchmarks.json` and the store
//! section of `benchmarks.md`. The data plane and the soak write their own sections (between
//! their own markers, with `replace_between`) from the same types.
//!
//! Fields are declared in alphabetical order where the JSON is compared run to run, so a new
//! `benchmarks.json` diffs cleanly against the last.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::peers::Peer;
use crate::{LOAD_CORE, Opts, SERVER_CORE};

/// One wrk run against one target.
#[derive(Serialize, Clone, Default)]
pub struct Run {
    pub scenario: String,
    pub target: String,
    pub concurrency: u32,
    pub store_size: u64,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub errors: u64,
    pub server_peak_rss_mib: f64,
}

/// A bar from the issues, judged on figures of this run. `met: None` shows a figure next to
/// the bars without judging it.
#[derive(Serialize, Clone)]
pub struct Check {
    pub bar: String,
    pub met: Option<bool>,
    pub value: String,
}

impl Check {
    pub fn judged(bar: impl Into<String>, value: String, met: bool) -> Check {
        Check {
            bar: bar.into(),
            met: Some(met),
            value,
        }
    }

    pub fn shown(bar: impl Into<String>, value: String) -> Check {
        Check {
            bar: bar.into(),
            met: None,
            value,
        }
    }

    fn met_cell(&self) -> &'static str {
        match self.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        }
    }
}

/// The machine a run measured on, as its own tools describe it.
#[derive(Serialize, Clone, Default)]
pub struct Machine {
    pub cores: String,
    pub cpu: String,
    pub date: String,
    pub kernel: String,
    pub memory: String,
    pub rustc: String,
    pub wrk: String,
}

impl Machine {
    pub fn here() -> Machine {
        Machine {
            cores: sh("nproc"),
            cpu: sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
            date: sh("date -u +%Y-%m-%dT%H:%M:%SZ"),
            kernel: sh("uname -r"),
            memory: sh("free -h | awk '/Mem:/ {print $2}'"),
            rustc: sh("rustc --version"),
            wrk: sh("wrk -v 2>&1 | head -1"),
        }
    }
}

/// A shell command's output, trimmed; empty when it cannot run (a figure's caption, not a
/// figure).
fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// How the store scenarios were run.
#[derive(Serialize, Clone, Default)]
pub struct Params {
    pub load_core: &'static str,
    pub log_level: &'static str,
    pub models_per_provider: u32,
    pub seconds_per_run: u64,
    pub server_core: &'static str,
    pub server_workers: u32,
}

/// One write pattern of raw sled: the durability ceiling the server's writes compare with.
#[derive(Serialize, Clone)]
pub struct SledRate {
    pub name: &'static str,
    pub ops_per_sec: f64,
}

/// One point of `benchmarks-scale.png` (read by `bench/plot.py`).
#[derive(Serialize, Clone)]
pub struct ScalePoint {
    pub concurrency: u32,
    pub p99_ms: f64,
    pub rps: f64,
    pub scenario: &'static str,
    pub size: u64,
}

/// One target of the data-plane comparison: medians of its paced streams. Its wrk runs are the
/// `Run`s whose `target` is this row's.
#[derive(Serialize, Clone)]
pub struct SideBySideRow {
    pub failed_streams: usize,
    pub first_content_ms: f64,
    pub peer: Peer,
    pub target: &'static str,
    pub ttfb_ms: f64,
}

/// A target that could not be measured, and why.
#[derive(Serialize, Clone)]
pub struct Skipped {
    pub target: Peer,
    pub why: String,
}

#[derive(Serialize, Default)]
pub struct Report {
    pub machine: Machine,
    pub params: Params,
    pub runs: Vec<Run>,
    pub sled: Vec<SledRate>,
    pub checks: Vec<Check>,
    /// Sizes and memory, each in its own unit (named by its key).
    pub footprint: BTreeMap<&'static str, f64>,
    pub scale: Vec<ScalePoint>,
    pub side_by_side: Vec<SideBySideRow>,
    pub skipped: Vec<Skipped>,
}

/// The bars as a Markdown table.
pub fn bars_table(checks: &[Check]) -> String {
    let mut md = String::from("| bar | measured | met |\n| --- | --- | --- |\n");
    for c in checks {
        writeln!(md, "| {} | {} | {} |", c.bar, c.value, c.met_cell()).unwrap();
    }
    md
}

/// Writes `benchmarks.json` and the store section of `benchmarks.md` in `opts.out`.
pub fn write_store(opts: &Opts, report: &Report) {
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
        m.cpu, m.cores, m.memory, m.kernel, m.rustc, m.wrk, m.date
    )
    .unwrap();
    writeln!(md, "Server pinned to core {SERVER_CORE}, wrk to core {LOAD_CORE}; {} s per run; server with 2 workers and `RUST_LOG=warn`; providers carry 10 models each.\n", opts.secs).unwrap();
    writeln!(md, "## Bars\n\n{}", bars_table(&report.checks)).unwrap();
    writeln!(md, "## Store and management API runs\n\n| scenario | request | concurrency | providers | requests/s | p50 ms | p99 ms | p99.9 ms | errors | server peak RSS MiB |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |").unwrap();
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
        writeln!(md, "| {} | {:.0} |", s.name, s.ops_per_sec).unwrap();
    }
    writeln!(md, "\n## Footprint\n\n| measure | value |\n| --- | ---: |").unwrap();
    for (k, v) in &report.footprint {
        writeln!(md, "| {k} | {v:.1} |").unwrap();
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
pub fn replace_between(path: &Path, name: &str, content: &str) {
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
