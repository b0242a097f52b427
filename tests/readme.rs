//! README's walk-through, run as a reader would paste it: every `sh` block of its
//! "Walk-through" section, in order, in one bash against a freshly started server whose data
//! dir is `./data` (as `cargo run --release` makes it), so the walk-through cannot rot.

use std::process::{Command, Stdio};

use serde_json::Value;

#[path = "support/server.rs"]
mod server;

const README: &str = include_str!("../README.md");
const BIN: &str = env!("CARGO_BIN_EXE_modelgate");
/// The address README's commands assume; the test's server listens elsewhere.
const README_BASE: &str = "http://127.0.0.1:8080";

/// The `sh` blocks between `## Walk-through` and the next `## ` heading.
fn walk_through_blocks() -> Vec<String> {
    let start = README
        .find("\n## Walk-through")
        .expect("README has a Walk-through section");
    let section = &README[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section[..end].lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn the_walk_through_runs_as_written_against_a_fresh_server() {
    let blocks = walk_through_blocks();
    assert!(blocks.len() >= 2, "found {} sh blocks", blocks.len());
    let dir = tempfile::tempdir().unwrap();
    let started = server::spawn(
        Command::new(BIN)
            .current_dir(dir.path())
            .args(["--bind", "127.0.0.1:0"])
            .env_remove("MODELGATE_ADMIN_TOKEN")
            .env_remove("MODELGATE_DATA_DIR")
            .env_remove("MODELGATE_BIND")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null()),
    );
    let (mut server, port, server_log) = (started.child, started.port, started.log);
    let base = format!("http://127.0.0.1:{port}");

    // Any answer of 400 or more stops the walk-through: the reader would have seen an error.
    // Each answer ends its own line here, so the test can read them one by one.
    let mut script = String::from(
        "set -euo pipefail\ncurl() { command curl --fail-with-body --show-error \"$@\"; echo; }\n",
    );
    for block in &blocks {
        script.push_str(&block.replace(README_BASE, &base));
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env_remove("MG")
        .env_remove("AUTH")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "the walk-through failed:\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- script\n{script}\n--- server\n{}",
        server_log.lock().unwrap().join("\n")
    );

    // What each step printed: the id and ETag it captured, and the statuses it showed.
    let lines: Vec<&str> = stdout.lines().collect();
    let id = lines
        .iter()
        .find(|l| l.len() == 26 && ulid::Ulid::from_string(l).is_ok())
        .unwrap_or_else(|| panic!("no provider id was echoed:\n{stdout}"));
    assert!(
        lines.contains(&format!("\"{id}-1\"").as_str()),
        "no ETag of {id}:\n{stdout}"
    );
    assert_eq!(
        lines.iter().filter(|l| **l == "204").count(),
        3,
        "three deletes answer 204:\n{stdout}"
    );
    let patched = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["name"] == "Ollama (NAS)")
        .unwrap_or_else(|| panic!("the PATCH answer is missing:\n{stdout}"));
    assert_eq!(patched["models"].as_array().map(Vec::len), Some(1));
    assert!(
        !stdout.contains("sk-proj-0123456789abcdef") && !stdout.contains("vllm-token-0123456789"),
        "a secret was echoed back:\n{stdout}"
    );
    // Every `keyRedacted` the walk-through's comments show is one an answer gave.
    let answers: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let shown: Vec<&str> = blocks
        .iter()
        .flat_map(|b| b.split("\"keyRedacted\":\"").skip(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(shown.len() >= 2, "{shown:?}");
    for shown in shown {
        assert!(
            answers.iter().any(|a| a["keyRedacted"] == shown),
            "README shows keyRedacted {shown}, which no answer gave:\n{stdout}"
        );
    }
}
