//! End to end with the real clients and a real model server: the official Python and JS SDKs
//! (pinned in `tests/e2e/requirements.txt` and `package.json`) talk to the modelgate binary,
//! which routes to a mock provider (to see exactly what reaches an upstream) or to llama.cpp's
//! `llama-server` with the SmolLM2 model (real answers, real usage counts).
//!
//! These tests need what `tests/e2e/setup` installs (the SDKs, and llama-server built into the
//! user's cache), so plain `cargo test` lists them as ignored; `scripts/test` runs the setup and
//! then them: `eval "$(tests/e2e/setup)" && cargo test --test e2e -- --ignored`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

mod llama;
mod mock;
mod readme;
#[path = "../support/server.rs"]
mod server;
mod translate;

const BIN: &str = env!("CARGO_BIN_EXE_modelgate");
const TOKEN: &str = "e2e-admin-token-0123456789";
const UPSTREAM_KEY: &str = "sk-mock-upstream-key-0123456789";

/// A variable `tests/e2e/setup` prints; without it the test cannot run and says how to fix that.
fn setup(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run `eval \"$(tests/e2e/setup)\"` first (scripts/test does)")
    })
}

/// The modelgate binary on a port of its own, in `dir` (its data in `dir/data`); with `token`
/// it uses that admin token, else it writes one into `data/admin-token` as a first start does.
struct Gateway {
    child: std::process::Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    fn start(dir: &Path, token: Option<&str>) -> Gateway {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir)
            .args(["--bind", "127.0.0.1:0"])
            .env_remove("MODELGATE_ADMIN_TOKEN")
            .env_remove("MODELGATE_DATA_DIR")
            .env_remove("MODELGATE_BIND")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null());
        if let Some(token) = token {
            cmd.env("MODELGATE_ADMIN_TOKEN", token);
        }
        let started = server::spawn(&mut cmd);
        Gateway {
            child: started.child,
            base: format!("http://127.0.0.1:{}", started.port),
            log: started.log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    async fn post(&self, path: &str, body: Value) {
        let res = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert!(
            status.is_success(),
            "POST {path}: {status} {}",
            res.text().await.unwrap()
        );
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one SDK check script against `gateway` and returns the JSON summary it ends with.
async fn run_sdk_check(
    gateway: &Gateway,
    interpreter: &str,
    script: &str,
    env: &[(&str, &str)],
) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(script);
    let mut cmd = Command::new(interpreter);
    cmd.arg(&script)
        .env("MG_BASE", &gateway.base)
        .env("MG_TOKEN", TOKEN)
        .env_remove("MG_LIMITED_MODEL")
        // The SDKs read these too; a developer's own must not change what is tested.
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_AUTH_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{interpreter} does not run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed:\n--- stdout\n{stdout}\n--- stderr\n{}\n--- modelgate\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr),
        gateway.log()
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|_| panic!("no summary line:\n{stdout}"))
}

fn checks(summary: &Value) -> Vec<&str> {
    summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// Every check each script names must have run; an SDK change that skipped one fails here.
fn assert_ran(summary: &Value, expected: &[&str]) {
    let ran = checks(summary);
    for name in expected {
        assert!(ran.contains(name), "{name} did not run: {summary}");
    }
}

const PY_CHECKS: &[&str] = &[
    "openai chat",
    "openai chat stream",
    "openai embeddings",
    "openai models.list",
    "openai models.retrieve",
    "openai models.retrieve unknown",
    "openai unknown model",
    "openai bad token",
    "anthropic messages",
    "anthropic messages stream",
    "anthropic models.list",
    "anthropic models.list pages",
    "anthropic models.retrieve",
    "anthropic models.retrieve unknown",
    "anthropic unknown model",
    "anthropic bad token",
];

const JS_CHECKS: &[&str] = &[
    "openai chat",
    "openai chat stream",
    "openai embeddings",
    "openai models.list",
    "openai models.retrieve",
    "openai models.retrieve unknown",
    "openai unknown model",
    "openai bad token",
    "anthropic messages",
    "anthropic sends authorization",
    "anthropic messages stream",
    "anthropic models.list",
    "anthropic models.list pages",
    "anthropic models.retrieve",
    "anthropic models.retrieve unknown",
    "anthropic unknown model",
    "anthropic bad token",
    "anthropic 0.x messages",
    "anthropic 0.x sends x-api-key",
    "anthropic 0.x messages stream",
    "anthropic 0.x models.list",
    "anthropic 0.x models.list pages",
    "anthropic 0.x models.retrieve",
    "anthropic 0.x models.retrieve unknown",
];

/// One provider serving both formats' surfaces, as llama.cpp's server does.
fn both_formats(provider_id: &str, base_url: &str, models: &[&str]) -> Value {
    json!({
        "providerId": provider_id,
        "name": provider_id,
        "baseUrl": base_url,
        "supportedApiSurfaces": [
            {"format": "openai", "surface": "chat-completions"},
            {"format": "openai", "surface": "embeddings"},
            {"format": "anthropic", "surface": "messages"}
        ],
        "models": models.iter().map(|m| json!({"modelId": m})).collect::<Vec<_>>()
    })
}

#[actix_web::test]
#[ignore = "needs the SDKs from tests/e2e/setup; scripts/test runs it"]
async fn the_sdks_call_through_modelgate_and_the_upstream_sees_only_its_own_key() {
    let python = setup("MODELGATE_E2E_PYTHON");
    let upstream = mock::Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path(), Some(TOKEN));
    gateway
        .post(
            "/providers",
            // `org/m` for a model id with a `/`, which retrieve's path must carry.
            both_formats("mock", &upstream.base, &["m", "rate-limited", "org/m"]),
        )
        .await;
    gateway
        .post(
            "/provider-keys",
            json!({"providerId": "mock", "name": "upstream", "value": UPSTREAM_KEY}),
        )
        .await;
    let env = [
        ("MG_MODEL", "mock:m"),
        ("MG_LIMITED_MODEL", "mock:rate-limited"),
    ];

    let py = run_sdk_check(&gateway, &python, "sdk_check.py", &env).await;
    assert_ran(&py, PY_CHECKS);
    assert_ran(
        &py,
        &[
            "openai upstream 429",
            "openai upstream 429 retry-after",
            "anthropic upstream 429",
        ],
    );
    let js = run_sdk_check(&gateway, "node", "sdk_check.mjs", &env).await;
    assert_ran(&js, JS_CHECKS);
    assert_ran(
        &js,
        &[
            "openai upstream 429",
            "anthropic upstream 429",
            "anthropic 0.x upstream 429",
        ],
    );

    // What reached the upstream: its own key in the format's header, never the caller's token.
    let seen = upstream.seen();
    let anthropic_calls = seen.iter().filter(|s| s.path == "/v1/messages").count();
    assert!(
        anthropic_calls >= 9,
        "{anthropic_calls} Anthropic calls reached the mock"
    );
    for call in &seen {
        let h = &call.headers;
        if call.path == "/v1/messages" {
            assert_eq!(
                h.get("x-api-key").map(String::as_str),
                Some(UPSTREAM_KEY),
                "{call:?}"
            );
            assert!(
                h.contains_key("anthropic-version") && !h.contains_key("authorization"),
                "{call:?}"
            );
        } else {
            assert!(
                ["/v1/chat/completions", "/v1/embeddings"].contains(&call.path.as_str()),
                "{call:?}"
            );
            let bearer = format!("Bearer {UPSTREAM_KEY}");
            assert_eq!(h.get("authorization"), Some(&bearer), "{call:?}");
            assert!(!h.contains_key("x-api-key"), "{call:?}");
        }
        assert!(
            !h.values().any(|v| v.contains(TOKEN)),
            "the caller's token went upstream: {call:?}"
        );
    }
    let log = gateway.log();
    assert!(
        !log.contains(TOKEN) && !log.contains(UPSTREAM_KEY),
        "a secret was logged:\n{log}"
    );
    upstream.stop().await;
}

#[actix_web::test]
#[ignore = "needs the SDKs and llama-server from tests/e2e/setup; scripts/test runs it"]
async fn the_sdks_call_llama_server_through_modelgate_with_real_usage() {
    let python = setup("MODELGATE_E2E_PYTHON");
    let model_server = llama::LlamaServer::start();
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path(), Some(TOKEN));
    // Keyless: llama-server takes no credential, and none is sent.
    gateway
        .post(
            "/providers",
            both_formats("llama", &model_server.base, &[llama::ALIAS]),
        )
        .await;
    let model = format!("llama:{}", llama::ALIAS);
    let env = [("MG_MODEL", model.as_str())];

    let py = run_sdk_check(&gateway, &python, "sdk_check.py", &env).await;
    assert_ran(&py, PY_CHECKS);
    let js = run_sdk_check(&gateway, "node", "sdk_check.mjs", &env).await;
    assert_ran(&js, JS_CHECKS);
}
