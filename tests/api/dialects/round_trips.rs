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

#[actix_web::test]
async fn created_in_agentstack_read_and_changed_in_bifrost_and_back() {
    use crate::helpers::ADMIN_TOKEN;
    use crate::upstream::{Mock, Reply};
    let app = spawn_app().await;
    let mock = Mock::start().await;
    mock.then(Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"object": "list", "data": [{"id": "claude"}]}),
    });
    let body = json!({"type": "anthropic", "base_url": format!("{}/v1", mock.base),
                      "api_key": "sk-ant-secret-1", "name": "Claude", "description": "team"});
    let res = app
        .client
        .post(app.url("/api/v1/model_providers"))
        .basic_auth("admin", Some(ADMIN_TOKEN))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();

    // Bifrost sees it under its providerId, as an Anthropic-based provider.
    let list = bifrost(&app, Method::GET, "/api/providers", None).await;
    let seen = &list["providers"][0];
    let name = seen["name"].as_str().unwrap().to_owned();
    assert!(name.starts_with("anthropic-"), "{name}");
    assert_eq!(
        seen["custom_provider_config"]["base_provider_type"],
        "anthropic"
    );
    assert_eq!(seen["network_config"]["base_url"], created["base_url"]);
    // A Bifrost PUT cannot say AgentStack's description or type: they stay.
    let put =
        json!({"network_config": {"base_url": format!("{}/v2", mock.base), "max_retries": 2}});
    bifrost(
        &app,
        Method::PUT,
        &format!("/api/providers/{name}"),
        Some(&put),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let res = app
        .client
        .get(app.url(&format!("/api/v1/model_providers/{id}")))
        .basic_auth("admin", Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["base_url"], format!("{}/v2", mock.base));
    assert_eq!(after["description"], "team");
    assert_eq!(after["type"], "anthropic");
    assert_eq!(after["name"], "Claude");
    assert_eq!(after["capabilities"], json!(["llm"]));

    // A provider Bifrost made shows in AgentStack's list, as OpenAI-compatible `other`.
    bifrost(
        &app,
        Method::POST,
        "/api/providers",
        Some(&json!({"provider": "groq"})),
    )
    .await;
    let res = app
        .client
        .get(app.url("/api/v1/model_providers"))
        .basic_auth("admin", Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["total_count"], 2);
    let groq = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["base_url"] == "https://api.groq.com/openai/v1")
        .unwrap();
    assert_eq!(groq["type"], "other");
    assert_eq!(groq["name"], "groq");
    mock.stop().await;
}
