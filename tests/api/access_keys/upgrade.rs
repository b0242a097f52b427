//! A data dir of the release before store format 5, whose access keys had no configuration:
//! opened by this one, its keys still authenticate as they did (allow-all, their request
//! rate kept) and can be scoped like new ones.

use serde_json::{Value, json};

use super::json as answer;
use crate::fixture::{FORMAT_4_ACCESS_KEY, FORMAT_4_API_KEY, FORMAT_4_KEY, store_format_4};
use crate::helpers::data_plane::chat;
use crate::helpers::{TestApp, spawn_app_in};
use crate::upstream::Mock;

async fn chat_as(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(token)
        .json(&chat("fmt4:tiny"))
        .send()
        .await
        .unwrap()
}

async fn code(res: reqwest::Response) -> String {
    let body: Value = res.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[actix_web::test]
async fn a_format_4_data_dir_keeps_its_access_and_api_keys_working() {
    let dir = tempfile::tempdir().unwrap();
    store_format_4(dir.path());
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let keys = answer(app.get("/access-keys").await, 200).await;
    let list = keys["aiGatewayAccessKeys"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{keys}");
    assert_eq!(list[0]["description"], "fmt4 app");
    assert_eq!(list[0]["requestsPerMinute"], 1000);
    assert_eq!(list[0]["accessKeyConfiguration"], Value::Null);
    let key_uri = list[0]["uri"].as_str().unwrap().to_owned();

    let mock = Mock::start().await;
    let providers = answer(app.get("/providers").await, 200).await;
    let provider = providers["aiGatewayProviders"][0]["uri"].as_str().unwrap();
    let base = json!({"baseUrl": format!("{}/v1", mock.base)});
    answer(app.patch_json(provider, &base).await, 200).await;

    // The access key makes model calls and nothing else; the API key manages.
    assert_eq!(chat_as(&app, FORMAT_4_ACCESS_KEY).await.status(), 200);
    assert_eq!(
        mock.last().headers["authorization"],
        format!("Bearer {FORMAT_4_KEY}")
    );
    let managed = |token: &'static str| {
        app.client
            .get(app.url("/providers"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(managed(FORMAT_4_ACCESS_KEY).await.unwrap().status(), 403);
    assert_eq!(managed(FORMAT_4_API_KEY).await.unwrap().status(), 200);

    // The migrated key takes a configuration like a new one.
    let nothing = json!({"name": "nothing", "access": {"models": {"allow": []}}});
    let made = answer(
        app.post_json("/access-key-configurations", &nothing).await,
        201,
    )
    .await;
    let scope = json!({"accessKeyConfigurationId": made["id"]});
    answer(app.patch_json(&key_uri, &scope).await, 200).await;
    let refused = chat_as(&app, FORMAT_4_ACCESS_KEY).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(code(refused).await, "model_not_allowed");

    app.stop().await;
    let marker = std::fs::read_to_string(dir.path().join("format-version")).unwrap();
    assert_eq!(marker.trim(), "5");
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let kept = answer(app.get(&key_uri).await, 200).await;
    assert_eq!(kept["accessKeyConfiguration"]["id"], made["id"]);
    assert_eq!(chat_as(&app, FORMAT_4_ACCESS_KEY).await.status(), 403);
    app.stop().await;
    mock.stop().await;
}
