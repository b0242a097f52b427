//! Bifrost's `/api/providers`: every field of seed 002 written and read back, PUT as Bifrost's
//! handler applies it, `config_hash`, Bearer auth and errors in Bifrost's shape.

use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_shape, shapes};
use crate::helpers::{ADMIN_TOKEN, spawn_app, spawn_app_in};

/// Seed 002's body with real values: every field but the answer-only ones.
fn seed_body(name: &str) -> Value {
    json!({
        "provider": name,
        "network_config": {
            "base_url": "http://127.0.0.1:9/v1",
            "extra_headers": {"x-team": "ml"},
            "default_request_timeout_in_seconds": 45,
            "stream_idle_timeout_in_seconds": 20,
            "max_retries": 3,
            "retry_backoff_initial": 250,
            "retry_backoff_max": 4000,
            "insecure_skip_verify": true,
            "allow_private_network": true
        },
        "concurrency_and_buffer_size": {"concurrency": 4, "buffer_size": 16},
        "proxy_config": {"type": "http", "url": "http://proxy.internal:3128",
                         "username": "gw", "password": "hunter22"},
        "send_back_raw_request": true,
        "send_back_raw_response": true,
        "store_raw_request_response": true,
        "custom_provider_config": {
            "base_provider_type": "openai",
            "is_key_less": true,
            "allowed_requests": {
                "list_models": true,
                "chat_completion": true,
                "chat_completion_stream": false,
                "text_completion": false,
                "embedding": true,
                "speech": true
            },
            "request_path_overrides": {"chat_completion": "/v2/chat"}
        }
    })
}

async fn send(
    app: &crate::helpers::TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app.req(method, path);
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A Bifrost error with `status`, whose message names `needle`.
fn assert_bifrost_error(doc: &Value, (status, body): &(u16, Value), want: u16, needle: &str) {
    assert_eq!(*status, want, "{body}");
    assert_shape(doc, "BifrostError", body);
    assert_eq!(body["status_code"], want);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "`{needle}` not in: {message}");
}

#[actix_web::test]
async fn every_field_of_seed_002_is_written_and_read_back() {
    let doc = shapes("bifrost-shapes.json");
    let app = spawn_app().await;
    let (status, created) = send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&seed_body("clewdr")),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_shape(&doc, "ProviderResponse", &created);
    let (_, got) = send(&app, Method::GET, "/api/providers/clewdr", None).await;
    assert_eq!(got, created);

    assert_eq!(got["name"], "clewdr");
    let n = &got["network_config"];
    assert_eq!(n["base_url"], "http://127.0.0.1:9/v1");
    assert_eq!(n["extra_headers"], json!({"x-team": "ml"}));
    assert_eq!(n["default_request_timeout_in_seconds"], 45);
    assert_eq!(n["stream_idle_timeout_in_seconds"], 20);
    assert_eq!(n["max_retries"], 3);
    assert_eq!(n["retry_backoff_initial"], 250);
    assert_eq!(n["retry_backoff_max"], 4000);
    assert_eq!(n["insecure_skip_verify"], true);
    assert_eq!(n["allow_private_network"], true);
    assert_eq!(
        got["concurrency_and_buffer_size"],
        json!({"concurrency": 4, "buffer_size": 16})
    );
    let proxy = &got["proxy_config"];
    assert_eq!(proxy["type"], "http");
    assert_eq!(proxy["url"], "http://proxy.internal:3128");
    assert_eq!(proxy["username"], "gw");
    assert_ne!(
        proxy["password"], "hunter22",
        "the password is never answered"
    );
    assert!(!got.to_string().contains("hunter22"));
    for flag in [
        "send_back_raw_request",
        "send_back_raw_response",
        "store_raw_request_response",
    ] {
        assert_eq!(got[flag], true, "{flag}");
    }
    let custom = &got["custom_provider_config"];
    assert_eq!(custom["base_provider_type"], "openai");
    assert_eq!(custom["is_key_less"], true);
    let allowed = &custom["allowed_requests"];
    assert_eq!(allowed["chat_completion"], true);
    assert_eq!(allowed["chat_completion_stream"], false);
    assert_eq!(allowed["text_completion"], false);
    assert_eq!(allowed["embedding"], true);
    assert_eq!(allowed["responses"], false);
    assert_eq!(
        allowed["speech"], true,
        "a flag without a surface is kept as sent"
    );
    assert_eq!(
        custom["request_path_overrides"],
        json!({"chat_completion": "/v2/chat"})
    );
    assert_eq!(got["status"], "active");
    assert!(got["config_hash"].as_str().unwrap().len() >= 16);

    let (_, list) = send(&app, Method::GET, "/api/providers", None).await;
    assert_shape(&doc, "ListProvidersResponse", &list);
    assert_eq!(list["total"], 1);
    assert_eq!(list["providers"][0], got);
}

#[actix_web::test]
async fn a_bifrost_name_maps_to_its_format_and_default_address() {
    let app = spawn_app().await;
    let (status, got) = send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&json!({"provider": "groq"})),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got["network_config"]["base_url"],
        "https://api.groq.com/openai/v1"
    );
    let body = json!({"provider": "claude-proxy", "network_config": {"base_url": "http://127.0.0.1:9"},
                      "custom_provider_config": {"base_provider_type": "anthropic"}});
    let (status, got) = send(&app, Method::POST, "/api/providers", Some(&body)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got["custom_provider_config"]["base_provider_type"],
        "anthropic"
    );
    // Seen by the ngrok API as an Anthropic-format provider.
    let ngrok: Value = app.get("/providers").await.json().await.unwrap();
    let p = ngrok["aiGatewayProviders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["providerId"] == "claude-proxy")
        .unwrap()
        .clone();
    assert_eq!(
        p["supportedApiSurfaces"],
        json!([{"format": "anthropic", "supportedParams": []}])
    );
}

#[actix_web::test]
async fn put_replaces_what_bifrost_replaces_and_keeps_the_rest() {
    let app = spawn_app().await;
    send(&app, Method::POST, "/api/providers", Some(&seed_body("p1"))).await;
    let (_, before) = send(&app, Method::GET, "/api/providers/p1", None).await;
    // network_config and concurrency whole; proxy, custom config and flags left out: kept.
    let put = json!({
        "network_config": {"base_url": "http://127.0.0.1:10/v1", "max_retries": 1},
        "concurrency_and_buffer_size": {"concurrency": 2, "buffer_size": 2}
    });
    let (status, after) = send(&app, Method::PUT, "/api/providers/p1", Some(&put)).await;
    assert_eq!(status, 200, "{after}");
    let n = &after["network_config"];
    assert_eq!(n["base_url"], "http://127.0.0.1:10/v1");
    assert_eq!(n["max_retries"], 1);
    assert_eq!(
        n["default_request_timeout_in_seconds"], 0,
        "replaced whole: back to the default"
    );
    assert!(n.get("extra_headers").is_none());
    assert_eq!(n["allow_private_network"], false);
    assert_eq!(
        after["concurrency_and_buffer_size"],
        json!({"concurrency": 2, "buffer_size": 2})
    );
    assert_eq!(after["proxy_config"], before["proxy_config"]);
    assert_eq!(
        after["custom_provider_config"],
        before["custom_provider_config"]
    );
    assert_eq!(after["send_back_raw_request"], true);
    assert_ne!(after["config_hash"], before["config_hash"]);

    // What a client read, sent back (redacted password, answer-only fields): nothing lost.
    let (status, echoed) = send(&app, Method::PUT, "/api/providers/p1", Some(&after)).await;
    assert_eq!(status, 200, "{echoed}");
    assert_eq!(
        echoed, after,
        "an echo changes nothing, config_hash included"
    );

    // null clears a block; a flag sent is replaced.
    let put = json!({"network_config": {"base_url": "http://127.0.0.1:10/v1"}, "proxy_config": null,
                     "custom_provider_config": null, "send_back_raw_request": false});
    let (_, cleared) = send(&app, Method::PUT, "/api/providers/p1", Some(&put)).await;
    assert_eq!(cleared["proxy_config"], Value::Null);
    assert_eq!(cleared["custom_provider_config"]["is_key_less"], false);
    assert_eq!(
        cleared["custom_provider_config"]["allowed_requests"]["text_completion"],
        true
    );
    assert_eq!(cleared["send_back_raw_request"], false);
    assert_eq!(cleared["send_back_raw_response"], true);
}

#[actix_web::test]
async fn put_on_a_missing_provider_creates_it() {
    let app = spawn_app().await;
    let put = json!({"network_config": {"base_url": "http://127.0.0.1:9/v1"},
                     "custom_provider_config": {"base_provider_type": "openai"}});
    let (status, got) = send(&app, Method::PUT, "/api/providers/fresh", Some(&put)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["name"], "fresh");
    let (status, _) = send(&app, Method::GET, "/api/providers/fresh", None).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn config_hash_is_stable_across_reads_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    send(&app, Method::POST, "/api/providers", Some(&seed_body("h1"))).await;
    let (_, first) = send(&app, Method::GET, "/api/providers/h1", None).await;
    let (_, again) = send(&app, Method::GET, "/api/providers/h1", None).await;
    assert_eq!(first["config_hash"], again["config_hash"]);
    app.stop().await;
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let (_, restarted) = send(&app, Method::GET, "/api/providers/h1", None).await;
    assert_eq!(restarted["config_hash"], first["config_hash"]);
    // A change through another API changes it too.
    let ngrok: Value = app.get("/providers").await.json().await.unwrap();
    let id = ngrok["aiGatewayProviders"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.patch_json(&format!("/providers/{id}"), &json!({"metadata": "moved"}))
        .await;
    let (_, changed) = send(&app, Method::GET, "/api/providers/h1", None).await;
    assert_ne!(changed["config_hash"], first["config_hash"]);
}

#[actix_web::test]
async fn delete_takes_the_provider_and_its_keys() {
    let app = spawn_app().await;
    send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&seed_body("gone")),
    )
    .await;
    let key = app
        .post_json(
            "/provider-keys",
            &json!({"providerId": "gone", "name": "k1", "value": "sk-abcdef123456"}),
        )
        .await;
    assert_eq!(key.status(), 201);
    let (status, body) = send(&app, Method::DELETE, "/api/providers/gone", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"name": "gone", "status": "deleted"}));
    let (status, _) = send(&app, Method::GET, "/api/providers/gone", None).await;
    assert_eq!(status, 404);
    let keys: Value = app.get("/provider-keys").await.json().await.unwrap();
    assert_eq!(keys["aiGatewayProviderKeys"], json!([]));
}

#[actix_web::test]
async fn bad_input_and_refusals_come_in_bifrost_s_shape() {
    let doc = shapes("bifrost-shapes.json");
    let app = spawn_app().await;
    let bad = json!({"provider": "vllm", "network_config": {"base_url": "ftp://x", "max_retries": 99},
                     "concurrency_and_buffer_size": {"concurrency": 8, "buffer_size": 2}});
    let r = send(&app, Method::POST, "/api/providers", Some(&bad)).await;
    assert_bifrost_error(&doc, &r, 400, "network_config.base_url");
    assert_bifrost_error(&doc, &r, 400, "network_config.max_retries");
    assert_bifrost_error(&doc, &r, 400, "concurrency_and_buffer_size.buffer_size");
    let r = send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&json!({"network_config": 5})),
    )
    .await;
    assert_bifrost_error(&doc, &r, 400, "network_config");
    let r = send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&json!({"provider": "bedrock"})),
    )
    .await;
    assert_bifrost_error(&doc, &r, 400, "provider");
    let r = send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&json!({"provider": "vllm"})),
    )
    .await;
    assert_bifrost_error(&doc, &r, 400, "network_config.base_url");
    let streamed_only = json!({"provider": "s", "network_config": {"base_url": "http://127.0.0.1:9"},
        "custom_provider_config": {"base_provider_type": "openai",
            "allowed_requests": {"chat_completion": false, "chat_completion_stream": true}}});
    let r = send(&app, Method::POST, "/api/providers", Some(&streamed_only)).await;
    assert_bifrost_error(&doc, &r, 400, "allowed_requests.chat_completion_stream");
    let r = send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&json!({"provider": "openai"})),
    )
    .await;
    assert_bifrost_error(&doc, &r, 400, "catalog");

    send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&seed_body("dup")),
    )
    .await;
    let r = send(
        &app,
        Method::POST,
        "/api/providers",
        Some(&seed_body("dup")),
    )
    .await;
    assert_bifrost_error(&doc, &r, 409, "already exists");
    let r = send(&app, Method::GET, "/api/providers/nope", None).await;
    assert_bifrost_error(&doc, &r, 404, "nope");
    let r = send(
        &app,
        Method::PUT,
        "/api/providers/dup",
        Some(&json!({"keys": [{"value": "x"}]})),
    )
    .await;
    assert_bifrost_error(&doc, &r, 400, "keys");

    // Management credentials only, as Bearer.
    let res = app
        .client
        .get(app.url("/api/providers"))
        .send()
        .await
        .unwrap();
    let r = (res.status().as_u16(), res.json().await.unwrap());
    assert_bifrost_error(&doc, &r, 401, "Bearer");
    let res = app
        .client
        .get(app.url("/api/providers"))
        .basic_auth("admin", Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
