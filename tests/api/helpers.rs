use std::path::Path;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use modelgate::auth::hash_token;
use modelgate::config::{Settings, TokenEntry};
use modelgate::startup::Application;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tempfile::TempDir;

pub mod data_plane;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// A second credential, configured by digest as `[[auth.tokens]]` entries are.
pub const CI_TOKEN: &str = "ci-token-abcdefghijklmnop";
pub const CI_ID: &str = "ci";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    _dir: Option<Arc<TempDir>>,
    handle: ServerHandle,
    task: Option<actix_web::rt::task::JoinHandle<std::io::Result<()>>>,
}

/// A server on a free port with a fresh data dir, the admin token and a `ci` token.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut app = spawn_app_in(dir.path(), tweak).await;
    app._dir = Some(dir);
    app
}

/// A server on `data_dir`, which outlives it (for restart tests).
pub async fn spawn_app_in(data_dir: &Path, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_clocked(data_dir, tweak, modelgate::auth::system_clock()).await
}

/// A server whose stored credentials expire by `clock` (ms since the Unix epoch).
pub async fn spawn_app_clocked(
    data_dir: &Path,
    tweak: impl FnOnce(&mut Settings),
    clock: modelgate::auth::WallClock,
) -> TestApp {
    let policy = modelgate::gateway::policy::clock::system();
    spawn_app_clocks(data_dir, tweak, clock, policy).await
}

/// A server on both clocks a test drives: the wall clock (credentials' expiry, providers'
/// health times) and the gateway's monotonic one (breakers, key rests).
pub async fn spawn_app_clocks(
    data_dir: &Path,
    tweak: impl FnOnce(&mut Settings),
    clock: modelgate::auth::WallClock,
    policy: modelgate::gateway::policy::clock::Clock,
) -> TestApp {
    let _ = env_logger::builder().is_test(true).try_init();
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = 2;
    settings.storage.data_dir = data_dir.to_owned();
    settings.storage.cache_capacity_mib = 8;
    settings.auth.admin_token = Some(ADMIN_TOKEN.into());
    settings.auth.tokens = vec![TokenEntry {
        id: CI_ID.into(),
        sha256: hash_token(CI_TOKEN),
    }];
    // No background checks unless a test turns them on, aimed at its own loopback mock.
    settings.health.enabled = false;
    tweak(&mut settings);
    settings.validate().expect("valid test settings");
    let app = Application::build_with_clocks(&settings, clock, policy).expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let task = actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        _dir: None,
        handle,
        task: Some(task),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request carrying the admin token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(ADMIN_TOKEN)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.req(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.req(Method::PATCH, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.req(Method::DELETE, path).send().await.unwrap()
    }

    /// Creates a provider that must succeed, returning its body.
    pub async fn create(&self, body: &Value) -> Value {
        let res = self.post_json("/providers", body).await;
        let status = res.status();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "create failed: {json}");
        json
    }

    /// Stops the server (draining requests, flushing the store) and waits until it is gone.
    pub async fn stop(mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// `base` with `extra`'s top-level fields set over it.
pub fn merged(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("extra fields are an object") {
        base[k] = v.clone();
    }
    base
}

pub fn provider(provider_id: &str) -> Value {
    json!({
        "providerId": provider_id,
        "name": format!("Provider {provider_id}"),
        "baseUrl": "http://127.0.0.1:11434/v1",
    })
}

/// Asserts `res` is the JSON error `code` with `status`, and returns its body.
pub async fn assert_error(res: Response, status: u16, code: &str) -> Value {
    let got = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = res.json().await.expect("error body is JSON");
    assert_eq!(got, status, "{body}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["errorCode"], code, "{body}");
    assert_eq!(body["statusCode"], status, "{body}");
    assert!(
        body["msg"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["details"].is_object(), "{body}");
    crate::schema::assert_valid("Error", &body);
    body
}

/// The details map of a validation error, asserting it names exactly `paths`.
pub async fn assert_violations(res: Response, paths: &[&str]) -> Value {
    let body = assert_error(res, 400, "validation_failed").await;
    let mut got: Vec<&str> = body["details"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    got.sort_unstable();
    let mut want = paths.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "{body}");
    body["details"].clone()
}
