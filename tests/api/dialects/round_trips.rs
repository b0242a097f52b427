//! One store, several views: a provider written in one API is read and changed in another,
//! and a field one API cannot express survives that API's writes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{provider, spawn_app};

async fn bifrost(
    app: &crate::helpers::TestApp,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Value {
    let mut req = app.req(method, path);
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

#[actix_web::test]
async fn created_in_bifrost_read_and_changed_in_ngrok_nothing_lost() {
    let app = spawn_app().await;
    let body = json!({"provider": "both", "network_config": {"base_url": "http://127.0.0.1:9/v1",
        "max_retries": 2}, "send_back_raw_response": true,
        "custom_provider_config": {"base_provider_type": "openai", "allowed_requests":
            {"chat_completion": true, "chat_completion_stream": false, "speech": true}}});
    let created = bifrost(&app, Method::POST, "/api/providers", Some(&body)).await;
    let list: Value = app.get("/providers").await.json().await.unwrap();
    let p = &list["aiGatewayProviders"][0];
    assert_eq!(p["providerId"], "both");
    assert_eq!(p["baseUrl"], "http://127.0.0.1:9/v1");
    assert_eq!(p["network"]["maxRetries"], 2);
    assert_eq!(
        p["supportedApiSurfaces"],
        json!([{"format": "openai", "surface": "chat-completions", "supportedParams": []}])
    );
    // ngrok's PATCH cannot say the raw flags or the stream split: they stay.
    let id = p["id"].as_str().unwrap();
    let res = app
        .patch_json(
            &format!("/providers/{id}"),
            &json!({"name": "Both", "models": [{"modelId": "m1"}]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let after = bifrost(&app, Method::GET, "/api/providers/both", None).await;
    assert_eq!(after["send_back_raw_response"], true);
    assert_eq!(
        after["custom_provider_config"]["allowed_requests"]["chat_completion_stream"],
        false
    );
    assert_eq!(
        after["custom_provider_config"]["allowed_requests"]["speech"],
        true
    );
    assert_eq!(after["network_config"], created["network_config"]);
    assert_ne!(after["config_hash"], created["config_hash"]);
}

#[actix_web::test]
async fn created_in_ngrok_read_and_changed_in_bifrost_nothing_lost() {
    let app = spawn_app().await;
    let mut body = provider("from-ngrok");
    body["metadata"] = json!("rack 2");
    body["models"] = json!([{"modelId": "llama"}]);
    body["network"] = json!({"requestTimeoutSeconds": 12});
    let made = app.create(&body).await;
    let seen = bifrost(&app, Method::GET, "/api/providers/from-ngrok", None).await;
    assert_eq!(
        seen["network_config"]["base_url"],
        "http://127.0.0.1:11434/v1"
    );
    assert_eq!(
        seen["network_config"]["default_request_timeout_in_seconds"],
        12
    );
    // Bifrost's PUT cannot say name, metadata or models: they stay.
    let put = json!({"network_config": {"base_url": "http://127.0.0.1:11434/v1",
        "default_request_timeout_in_seconds": 30}, "send_back_raw_request": true});
    bifrost(&app, Method::PUT, "/api/providers/from-ngrok", Some(&put)).await;
    let id = made["id"].as_str().unwrap();
    let now: Value = app
        .get(&format!("/providers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["name"], made["name"]);
    assert_eq!(now["metadata"], "rack 2");
    assert_eq!(now["models"], made["models"]);
    assert_eq!(now["network"]["requestTimeoutSeconds"], 30);
    assert_ne!(now["updatedAt"], Value::Null);
    let b = bifrost(&app, Method::GET, "/api/providers/from-ngrok", None).await;
    assert_eq!(b["send_back_raw_request"], true);
    // A change of a dialect-only field is a change: the ETag moves.
    let before = app.get(&format!("/providers/{id}")).await.headers()["etag"].clone();
    bifrost(&app, Method::PUT, "/api/providers/from-ngrok",
        Some(&json!({"network_config": {"default_request_timeout_in_seconds": 30}, "send_back_raw_request": false}))).await;
    let after = app.get(&format!("/providers/{id}")).await.headers()["etag"].clone();
    assert_ne!(before, after);
}
