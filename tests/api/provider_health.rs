//! A provider's health (`GET /providers/{id}/health`), its status in `?include=` and in
//! `/v1/models`, and the background checks: against mock providers on loopback only. Time is
//! moved by the test's clocks, never waited on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::data_plane::{add_key, call, chat, closed_port, registered};
use crate::helpers::{TestApp, assert_error, spawn_app_clocks, spawn_app_in, spawn_app_with};
use crate::raw::scripted;
use crate::upstream::{Mock, Reply, Tls};

fn models(n: usize) -> Reply {
    let data: Vec<Value> = (0..n).map(|i| json!({"id": format!("m{i}")})).collect();
    Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"object": "list", "data": data}),
    }
}

fn status(code: u16) -> Reply {
    Reply::Json {
        status: code,
        headers: vec![],
        body: json!({"error": {"message": format!("says {code}")}}),
    }
}

/// A clock a test moves: it reads `now`, which starts at the real time so that credentials
/// keep working.
fn manual(start: u64) -> (Arc<dyn Fn() -> u64 + Send + Sync>, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(start));
    let read = Arc::clone(&now);
    (Arc::new(move || read.load(Ordering::SeqCst)), now)
}

fn wall_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn provider_at(app: &TestApp, slug: &str, base: &str, models: &[&str]) -> String {
    let p = app.create(&registered(slug, base, models, json!([]))).await;
    p["id"].as_str().unwrap().to_owned()
}

async fn probe(app: &TestApp, id: &str) -> Value {
    let res = app
        .req(Method::POST, &format!("/providers/{id}/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// `GET /providers/{id}/health`, checked against the OpenAPI document's schema.
async fn health(app: &TestApp, id: &str) -> Value {
    let res = app.get(&format!("/providers/{id}/health")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["ProviderHealth"];
    crate::json_schema::assert_conforms(&doc, schema, &body, true);
    body
}

#[actix_web::test]
async fn each_probe_outcome_gives_its_status_and_check() {
    let app = spawn_app_with(|s| s.gateway.probe_timeout_ms = 300).await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    let malformed = scripted(vec![
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\n{oops"
            .to_vec(),
    ])
    .await;
    // A certificate the gateway does not trust: the handshake fails.
    let untrusted = Mock::start_tls(&Tls::new()).await;
    let cases: Vec<(&str, String, Option<Reply>, &str, Value)> = vec![
        (
            "healthy",
            base.clone(),
            Some(models(2)),
            "online",
            json!(200),
        ),
        (
            "slow",
            base.clone(),
            Some(Reply::Hang),
            "offline",
            Value::Null,
        ),
        (
            "refused-key",
            base.clone(),
            Some(status(401)),
            "degraded",
            json!(401),
        ),
        (
            "failing",
            base.clone(),
            Some(status(500)),
            "offline",
            json!(500),
        ),
        (
            "malformed",
            format!("{malformed}/v1"),
            None,
            "degraded",
            json!(200),
        ),
        (
            "tls",
            format!("{}/v1", untrusted.base),
            None,
            "offline",
            Value::Null,
        ),
        (
            "unreachable",
            format!("http://127.0.0.1:{}/v1", closed_port()),
            None,
            "offline",
            Value::Null,
        ),
    ];
    for (slug, base, reply, want, code) in cases {
        let id = provider_at(&app, slug, &base, &[]).await;
        let fresh = health(&app, &id).await;
        assert_eq!(fresh["status"], "unknown", "{slug}: {fresh}");
        assert_eq!(fresh["checks"], json!([]));
        assert_eq!(fresh["lastCheckedAt"], Value::Null);
        if let Some(reply) = reply {
            mock.then(reply);
        }
        let probed = probe(&app, &id).await;
        let h = health(&app, &id).await;
        assert_eq!(h["status"], want, "{slug}: {h}");
        assert_eq!(h["breaker"], "closed", "{slug}");
        let check = &h["checks"][0];
        assert_eq!(h["checks"].as_array().unwrap().len(), 1);
        assert_eq!(check["ok"], probed["ok"], "{slug}");
        assert_eq!(check["statusCode"], code, "{slug}: {h}");
        assert_eq!(check["error"], probed["error"], "{slug}");
        assert!(humantime::parse_rfc3339(check["at"].as_str().unwrap()).is_ok());
        assert_eq!(h["lastCheckedAt"], check["at"]);
        assert_eq!(h["lastError"], probed["error"]);
        let ok = want == "online";
        assert_eq!(h["consecutiveFailures"], if ok { 0 } else { 1 }, "{slug}");
        assert_eq!(h["lastOkAt"].is_string(), ok, "{slug}: {h}");
    }
}

#[actix_web::test]
async fn unknown_providers_and_bad_parameters_are_refused_in_the_apis_shape() {
    let app = spawn_app_with(|_| {}).await;
    let res = app
        .get("/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV/health")
        .await;
    assert_error(res, 404, "not_found").await;
    // Catalog providers are not addressed by id here, as for their `/test`.
    assert_error(app.get("/providers/openai/health").await, 404, "not_found").await;
    let id = provider_at(&app, "p", "http://127.0.0.1:9/v1", &[]).await;
    let res = app.get(&format!("/providers/{id}/health?x=1")).await;
    assert_error(res, 400, "invalid_query").await;
}

#[actix_web::test]
async fn statuses_move_with_the_clock_and_the_checks() {
    let (wall, now) = manual(wall_now());
    let policy = modelgate::gateway::policy::clock::system();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_clocks(dir.path(), |s| s.health.interval_secs = 1, wall, policy).await;
    let mock = Mock::start().await;
    let id = provider_at(&app, "moving", &format!("{}/v1", mock.base), &[]).await;

    mock.then(models(1));
    probe(&app, &id).await;
    assert_eq!(health(&app, &id).await["status"], "online");
    // Two intervals on, with no signal since, the success no longer counts.
    now.fetch_add(2_001, Ordering::SeqCst);
    assert_eq!(health(&app, &id).await["status"], "unknown");

    mock.then(status(503));
    probe(&app, &id).await;
    let h = health(&app, &id).await;
    assert_eq!(h["status"], "offline", "{h}");
    // A failed check stands until a success comes, however long.
    now.fetch_add(60_000, Ordering::SeqCst);
    assert_eq!(health(&app, &id).await["status"], "offline");

    mock.then(models(1));
    probe(&app, &id).await;
    let h = health(&app, &id).await;
    assert_eq!(h["status"], "online", "{h}");
    assert_eq!(h["consecutiveFailures"], 0);
    let oks: Vec<&Value> = h["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["ok"])
        .collect();
    assert_eq!(
        oks,
        [&json!(true), &json!(false), &json!(true)],
        "newest first"
    );
}

#[actix_web::test]
async fn a_call_that_succeeds_makes_its_provider_online_without_a_probe() {
    let (wall, now) = manual(wall_now());
    let policy = modelgate::gateway::policy::clock::system();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_clocks(dir.path(), |_| {}, wall, policy).await;
    let mock = Mock::start().await;
    let id = provider_at(&app, "called", &format!("{}/v1", mock.base), &["m"]).await;
    assert_eq!(health(&app, &id).await["status"], "unknown");
    let res = call(&app, "/v1/chat/completions", chat("called:m")).await;
    assert_eq!(res.status(), 200);
    let h = health(&app, &id).await;
    assert_eq!(h["status"], "online", "{h}");
    assert_eq!(h["checks"], json!([]), "no probe was made");
    assert_eq!(h["lastCheckedAt"], Value::Null);
    assert!(h["lastOkAt"].is_string());
    // It counts for two intervals (60 s each by default), as a check does.
    now.fetch_add(120_001, Ordering::SeqCst);
    assert_eq!(health(&app, &id).await["status"], "unknown");
    // One probe was never made: the mock saw the call only.
    assert_eq!(mock.seen().len(), 1);
}

#[actix_web::test]
async fn failed_probes_open_the_breaker_and_a_good_one_closes_it_half_open() {
    let (wall, _) = manual(wall_now());
    let (policy, moved) = manual(0);
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_clocks(dir.path(), |_| {}, wall, policy).await;
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    let id = provider_at(&app, "flaky", &down, &[]).await;
    // Each failed probe counts once: five in a row open the circuit.
    for n in 1..=5 {
        assert_eq!(health(&app, &id).await["breaker"], "closed", "before {n}");
        probe(&app, &id).await;
    }
    let h = health(&app, &id).await;
    assert_eq!(
        (&h["breaker"], &h["status"]),
        (&json!("open"), &json!("offline")),
        "{h}"
    );
    assert_eq!(h["consecutiveFailures"], 5);

    // The provider comes back; while its circuit is open a good probe does not close it.
    let mock = Mock::start().await;
    let back = json!({"baseUrl": format!("{}/v1", mock.base)});
    let res = app.patch_json(&format!("/providers/{id}"), &back).await;
    assert_eq!(res.status(), 200);
    mock.then(models(1));
    probe(&app, &id).await;
    assert_eq!(health(&app, &id).await["breaker"], "open");

    // Half-open after 30 s; the next good probe closes it.
    moved.fetch_add(30_000, Ordering::SeqCst);
    let h = health(&app, &id).await;
    assert_eq!(
        (&h["breaker"], &h["status"]),
        (&json!("half-open"), &json!("degraded")),
        "{h}"
    );
    mock.then(models(1));
    probe(&app, &id).await;
    let h = health(&app, &id).await;
    assert_eq!(
        (&h["breaker"], &h["status"]),
        (&json!("closed"), &json!("online")),
        "{h}"
    );
}

#[actix_web::test]
async fn the_history_survives_a_restart_and_goes_with_its_provider() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let id = provider_at(&app, "kept", &format!("{}/v1", mock.base), &[]).await;
    mock.then(models(1));
    probe(&app, &id).await;
    // A key's test is one of its provider's checks too.
    let key = add_key(&app, "kept", "sk-kept").await;
    mock.then(status(500));
    let res = app
        .req(
            Method::POST,
            &format!("/provider-keys/{}/test", key["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let before = health(&app, &id).await;
    assert_eq!(before["checks"].as_array().unwrap().len(), 2, "{before}");
    assert_eq!(before["checks"][0]["statusCode"], 500);
    // Each check was durable before its test answered.
    app.stop().await;

    let app = spawn_app_in(dir.path(), |_| {}).await;
    let after = health(&app, &id).await;
    assert_eq!(after["checks"], before["checks"], "{after}");
    assert_eq!(after["status"], "offline");
    assert_eq!(after["lastCheckedAt"], before["lastCheckedAt"]);

    let res = app.delete(&format!("/providers/{id}?cascade=true")).await;
    assert_eq!(res.status(), 204);
    assert_error(
        app.get(&format!("/providers/{id}/health")).await,
        404,
        "not_found",
    )
    .await;
    app.stop().await;
}

#[actix_web::test]
async fn include_adds_status_and_capabilities_only_when_asked() {
    let app = spawn_app_with(|_| {}).await;
    let mock = Mock::start().await;
    let surfaces = json!([
        {"format": "openai", "surface": "chat-completions", "supportedParams": []},
        {"format": "openai", "surface": "embeddings", "supportedParams": []},
    ]);
    let body = registered("both", &format!("{}/v1", mock.base), &[], surfaces);
    let id = app.create(&body).await["id"].as_str().unwrap().to_owned();
    let chat_only =
        json!([{"format": "openai", "surface": "chat-completions", "supportedParams": []}]);
    let plain = registered("plain", "http://127.0.0.1:9/v1", &[], chat_only);
    let plain = app.create(&plain).await["id"].as_str().unwrap().to_owned();
    mock.then(models(1));
    probe(&app, &id).await;

    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["AIGatewayProvider"];
    // Without it: exactly ngrok's shape.
    let p: Value = app
        .get(&format!("/providers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    crate::schema::assert_valid("AIGatewayProvider", &p);
    assert!(
        p.get("status").is_none() && p.get("capabilities").is_none(),
        "{p}"
    );
    let list: Value = app.get("/providers").await.json().await.unwrap();
    crate::schema::assert_valid("AIGatewayProviderList", &list);

    let p: Value = app
        .get(&format!("/providers/{id}?include=status,capabilities"))
        .await
        .json()
        .await
        .unwrap();
    crate::json_schema::assert_conforms(&doc, schema, &p, true);
    assert_eq!(p["status"], "online", "{p}");
    assert_eq!(p["capabilities"], json!(["llm", "embedding"]));
    let p: Value = app
        .get(&format!("/providers/{plain}?include=capabilities"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["capabilities"], json!(["llm"]), "{p}");
    assert!(p.get("status").is_none());

    let list: Value = app
        .get("/providers?include=status&limit=1")
        .await
        .json()
        .await
        .unwrap();
    let items = list["aiGatewayProviders"].as_array().unwrap();
    assert_eq!(items[0]["status"], "unknown", "{list}");
    assert!(items[0].get("capabilities").is_none());
    let next = list["nextPageUri"].as_str().unwrap();
    assert!(next.contains("include=status"), "{next}");
    let list_schema = &doc["components"]["schemas"]["AIGatewayProviderList"];
    crate::json_schema::assert_conforms(&doc, list_schema, &list, true);

    for path in [
        format!("/providers/{id}?include=status,health"),
        "/providers?include=".to_owned(),
    ] {
        let body = assert_error(app.get(&path).await, 400, "invalid_query").await;
        let rule = body["details"]["include"].as_str().unwrap();
        assert!(rule.contains("status, capabilities"), "{path}: {rule}");
    }
}

/// `GET /v1/models` in OpenAI's shape, as the admin.
async fn listed(app: &TestApp) -> Value {
    let res = app.get("/v1/models").await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[actix_web::test]
async fn listed_models_carry_their_providers_status_and_offline_ones_can_be_hidden() {
    for hide in [false, true] {
        let app = spawn_app_with(|s| s.gateway.hide_offline_models = hide).await;
        let mock = Mock::start().await;
        let up = provider_at(&app, "up", &format!("{}/v1", mock.base), &["a"]).await;
        let down = format!("http://127.0.0.1:{}/v1", closed_port());
        let gone = provider_at(&app, "down", &down, &["b"]).await;
        provider_at(&app, "new", "http://127.0.0.1:9/v1", &["c"]).await;
        mock.then(models(1));
        probe(&app, &up).await;
        probe(&app, &gone).await;
        let list = listed(&app).await;
        let seen: Vec<(&str, &str)> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().unwrap(),
                    m["modelgate_status"].as_str().unwrap(),
                )
            })
            .collect();
        let mut want = vec![
            ("up:a", "online"),
            ("down:b", "offline"),
            ("new:c", "unknown"),
        ];
        if hide {
            want.remove(1);
        }
        assert_eq!(seen, want, "hide_offline_models = {hide}");
        // Anthropic's shape carries it too.
        let surfaces =
            json!([{"format": "anthropic", "surface": "messages", "supportedParams": []}]);
        app.create(&registered(
            "claude",
            "http://127.0.0.1:9/v1",
            &["z"],
            surfaces,
        ))
        .await;
        let anthropic: Value = app
            .req(Method::GET, "/v1/models")
            .header("anthropic-version", "2023-06-01")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(anthropic["data"][0]["id"], "claude:z", "{anthropic}");
        assert_eq!(anthropic["data"][0]["modelgate_status"], "unknown");
    }
}

/// Polls `until` (a handshake on what the mock received), within a bound only a broken build
/// reaches.
async fn eventually(what: &str, mut until: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !until() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn background_checks_probe_custom_providers_and_catalog_ones_with_a_key() {
    let custom = Mock::start().await;
    let catalog = Mock::start().await;
    let catalog_base = format!("{}/v1", catalog.base);
    let app = spawn_app_with(|s| {
        s.health.enabled = true;
        s.health.interval_secs = 1;
        s.catalog.insert(
            "openai".into(),
            modelgate::config::CatalogSettings {
                base_url: Some(catalog_base),
            },
        );
    })
    .await;
    let id = provider_at(&app, "watched", &format!("{}/v1", custom.base), &[]).await;
    for _ in 0..100 {
        custom.then(models(1));
    }
    eventually("a background check of the custom provider", || {
        custom.seen().iter().any(|s| s.path == "/v1/models")
    })
    .await;
    // The catalog provider has no key: it was not checked with the custom one.
    assert!(catalog.seen().is_empty(), "{:?}", catalog.seen());
    // The check is kept as a test's is.
    let mut kept = Value::Null;
    for _ in 0..1500 {
        kept = health(&app, &id).await;
        if !kept["checks"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kept["checks"][0]["ok"], true, "{kept}");

    for _ in 0..100 {
        catalog.then(models(1));
    }
    add_key(&app, "openai", "sk-catalog").await;
    eventually("a background check of the catalog provider", || {
        catalog.seen().iter().any(|s| s.path == "/v1/models")
    })
    .await;
    let seen = catalog.seen();
    assert_eq!(seen[0].headers["authorization"], "Bearer sk-catalog");
    // A catalog provider's check also discovers its models: `m0` is then listed, and so
    // reachable by its bare name.
    let mut listed = Value::Null;
    for _ in 0..1500 {
        listed = app.get("/v1/models").await.json().await.unwrap();
        let ids = listed["data"].as_array().unwrap();
        if ids.iter().any(|m| m["id"] == "openai:m0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ids = listed["data"].as_array().unwrap();
    assert!(ids.iter().any(|m| m["id"] == "openai:m0"), "{listed}");
}
