//! README's "Use it as a gateway" snippets, run as a reader would: its `sh` blocks register
//! llama-server (started where the README says, but on a free port), then its `python` and
//! `js` blocks call it through a freshly started modelgate whose admin token is the
//! `data/admin-token` a first start writes. So the snippets cannot rot.

use std::process::Command;

use crate::{Gateway, llama, mock, setup};

const README: &str = include_str!("../../README.md");
const README_GATEWAY: &str = "http://127.0.0.1:8080";
const README_LLAMA: &str = "http://127.0.0.1:8081";

/// The code blocks tagged `lang` between `## Use it as a gateway` and the next `## ` heading.
fn blocks(lang: &str) -> Vec<String> {
    let start = README
        .find("\n## Use it as a gateway")
        .expect("README has a 'Use it as a gateway' section");
    let section = &README[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    let (open, mut found, mut current) = (format!("```{lang}"), Vec::new(), None::<String>);
    for line in section[..end].lines() {
        match (&mut current, line.trim_end()) {
            (None, l) if l == open => current = Some(String::new()),
            (Some(_), "```") => found.push(current.take().unwrap()),
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(
        !found.is_empty(),
        "README's gateway section has no {lang} block"
    );
    found
}

fn run(what: &str, cmd: &mut Command, gateway: &Gateway) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "README's {what} failed:\n--- stdout\n{stdout}\n--- stderr\n{}\n--- modelgate\n{}",
        String::from_utf8_lossy(&out.stderr),
        gateway.log()
    );
    stdout
}

/// What README's snippets printed, Python's and JS's, run against a gateway whose `local`
/// provider is at `upstream` (where README says llama-server listens).
struct Printed {
    py: String,
    js: String,
}

fn run_snippets(upstream: &str, python: &str) -> Printed {
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path(), None);
    let here = |code: &str| {
        code.replace(README_GATEWAY, &gateway.base)
            .replace(README_LLAMA, upstream)
    };

    let mut shell = String::from(
        "set -euo pipefail\ncurl() { command curl --fail-with-body --show-error \"$@\"; echo; }\n\
         export MG=http://127.0.0.1:8080\nexport AUTH=\"Authorization: Bearer $(cat data/admin-token)\"\n",
    );
    blocks("sh").iter().for_each(|b| shell.push_str(b));
    let registered = run(
        "sh blocks",
        Command::new("bash")
            .arg("-c")
            .arg(here(&shell))
            .current_dir(dir.path()),
        &gateway,
    );
    assert!(
        registered.contains("\"providerId\":\"local\""),
        "{registered}"
    );

    let py = run(
        "python blocks",
        Command::new(python)
            .arg("-c")
            .arg(here(&blocks("python").concat()))
            .current_dir(dir.path()),
        &gateway,
    );
    // An ES module resolves packages from its own folder up: lend the snippet's folder the
    // pinned SDKs of tests/e2e without writing anything into the checkout.
    let modules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/node_modules");
    std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
    let js_file = dir.path().join("snippet.mjs");
    std::fs::write(&js_file, here(&blocks("js").concat())).unwrap();
    let js = run(
        "js blocks",
        Command::new("node").arg(&js_file).current_dir(dir.path()),
        &gateway,
    );
    Printed { py, js }
}

fn counted(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern).unwrap().is_match(text)
}

#[actix_web::test]
#[ignore = "needs the SDKs and llama-server from tests/e2e/setup; scripts/test runs it"]
async fn readme_gateway_snippets_run_against_llama_server() {
    let python = setup("MODELGATE_E2E_PYTHON");
    let model_server = llama::LlamaServer::start();
    let Printed { py, js } = run_snippets(&model_server.base, &python);
    // The answers printed with the usage llama-server counted: real, non-zero counts.
    assert!(counted(r"completion_tokens=[1-9]", &py), "{py}");
    assert!(counted(r"output_tokens=[1-9]", &py), "{py}");
    assert!(counted(r"output_tokens: [1-9]", &js), "{js}");
}

/// OpenAI and vLLM end a stream with a chunk that carries only `usage`, with `choices: []`;
/// the mock sends it, and README's streaming loops must not trip on it.
#[actix_web::test]
#[ignore = "needs the SDKs from tests/e2e/setup; scripts/test runs it"]
async fn readme_gateway_snippets_survive_a_usage_only_last_chunk() {
    let python = setup("MODELGATE_E2E_PYTHON");
    let upstream = mock::Mock::start().await;
    let base = upstream.base.clone();
    let Printed { py, js } = tokio::task::spawn_blocking(move || run_snippets(&base, &python))
        .await
        .unwrap();
    // Each answer printed whole: chat, the stream and Anthropic's in Python; the stream and
    // Anthropic's in JS.
    assert_eq!(py.matches(mock::REPLY).count(), 3, "{py}");
    assert_eq!(js.matches(mock::REPLY).count(), 2, "{js}");
    assert!(counted(r"completion_tokens=[1-9]", &py), "{py}");
    assert!(counted(r"output_tokens: [1-9]", &js), "{js}");
    upstream.stop().await;
}
