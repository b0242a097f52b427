//! `/access-keys`: data-plane credentials. The `mga_` token is shown once and kept only as its
//! digest; the key makes model calls on `/v1` at once and is refused on every management route
//! (403); deleted, disabled or expired (by a clock the test moves) it is refused (401) on the
//! next call. modelgate's `expiresAt` and `disabled` show only when set. What a clock decides
//! (expiry, a rotation's grace, requests per minute): `clocked`.

mod clocked;
mod configurations;
mod router;
mod scope;
mod upgrade;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixture::files_holding;
use crate::helpers::data_plane::{chat, openai_error, registered};
use crate::helpers::{
    ADMIN_TOKEN, TestApp, assert_error, assert_violations, spawn_app, spawn_app_in,
};
use crate::schema::assert_valid;
use crate::upstream::Mock;

pub(crate) async fn json(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// Checks `key` against ngrok's shape, modelgate's extensions set aside.
pub(crate) fn assert_ngrok_shape(key: &Value) {
    let mut plain = key.clone();
    for extension in [
        "expiresAt",
        "disabled",
        "requestsPerMinute",
        "tokensPerMinute",
        "budget",
    ] {
        plain.as_object_mut().unwrap().remove(extension);
    }
    assert_valid("AIGatewayAccessKey", &plain);
}

pub(crate) async fn create(app: &TestApp, body: Value) -> (Value, String) {
    let res = app.post_json("/access-keys", &body).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let key = json(res, 201).await;
    assert_ngrok_shape(&key);
    assert_eq!(location, key["uri"]);
    let token = key["token"].as_str().unwrap().to_owned();
    (key, token)
}

pub(crate) async fn model_call(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(token)
        .json(&chat("up:m"))
        .send()
        .await
        .unwrap()
}

pub(crate) async fn with_upstream(app: &TestApp) -> Mock {
    let mock = Mock::start().await;
    app.create(&registered(
        "up",
        &format!("{}/v1", mock.base),
        &[],
        json!(null),
    ))
    .await;
    mock
}

#[actix_web::test]
async fn a_created_key_shows_its_token_once_and_makes_model_calls_at_once() {
    let app = spawn_app().await;
    let mock = with_upstream(&app).await;
    let (key, token) = create(&app, json!({"name": "chat app"})).await;
    let random = token.strip_prefix("mga_").unwrap();
    assert_eq!(random.len(), 43, "{token}");
    assert_eq!(
        key["keyRedacted"],
        format!("mga_…{}", &token[token.len() - 4..])
    );
    assert_eq!(key["accessKeyConfiguration"], Value::Null);
    assert_eq!(key["lastUsed"], Value::Null);
    assert!(key.get("expiresAt").is_none() && key.get("disabled").is_none());
    let got = json(app.get(key["uri"].as_str().unwrap()).await, 200).await;
    assert_ngrok_shape(&got);
    assert!(got.get("token").is_none());
    let list = json(app.get("/access-keys").await, 200).await;
    assert_valid("AIGatewayAccessKeyList", &list);
    assert!(!list.to_string().contains(random));

    // As Bearer, as x-api-key, and as both when they agree.
    assert_eq!(model_call(&app, &token).await.status(), 200);
    for headers in [
        vec![("x-api-key", token.clone())],
        vec![
            ("x-api-key", token.clone()),
            ("authorization", format!("Bearer {token}")),
        ],
    ] {
        let mut req = app.client.post(app.url("/v1/chat/completions"));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        assert_eq!(req.json(&chat("up:m")).send().await.unwrap().status(), 200);
    }
    assert_eq!(mock.last().path, "/v1/chat/completions");
    let models = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    mock.stop().await;
}

#[actix_web::test]
async fn two_different_tokens_in_one_call_are_refused_in_the_formats_shape() {
    let app = spawn_app().await;
    let (_, token) = create(&app, json!({})).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&token)
        .header("x-api-key", ADMIN_TOKEN)
        .json(&chat("up:m"))
        .send()
        .await
        .unwrap();
    let error = openai_error(res, 400, "invalid_header").await;
    assert!(
        error["message"].as_str().unwrap().contains("x-api-key"),
        "{error}"
    );
    assert!(!error.to_string().contains(&token[4..]));
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &token)
        .bearer_auth(ADMIN_TOKEN)
        .header("anthropic-version", "2023-06-01")
        .json(&chat("up:m"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
}

#[actix_web::test]
async fn an_access_key_is_refused_on_every_management_route() {
    let app = spawn_app().await;
    let (key, token) = create(&app, json!({})).await;
    let own = key["uri"].as_str().unwrap().to_owned();
    for (method, path) in [
        (Method::GET, "/providers"),
        (Method::POST, "/providers"),
        (Method::GET, "/provider-keys"),
        (Method::GET, "/api-keys"),
        (Method::POST, "/api-keys"),
        (Method::GET, "/access-keys"),
        (Method::POST, "/access-keys"),
        (Method::GET, own.as_str()),
        (Method::DELETE, own.as_str()),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 403, "access_key_not_allowed").await;
        assert!(
            body["msg"].as_str().unwrap().contains("/v1"),
            "{method} {path}: {body}"
        );
    }
    // Nothing was made or removed by it.
    let list = json(app.get("/access-keys").await, 200).await;
    assert_eq!(list["aiGatewayAccessKeys"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_deleted_or_disabled_key_is_refused_on_the_next_call() {
    let app = spawn_app().await;
    let mock = with_upstream(&app).await;
    let (key, token) = create(&app, json!({"name": "d"})).await;
    let path = key["uri"].as_str().unwrap().to_owned();
    assert_eq!(model_call(&app, &token).await.status(), 200);

    let off = json(app.patch_json(&path, &json!({"disabled": true})).await, 200).await;
    assert_eq!(off["disabled"], true);
    assert_ngrok_shape(&off);
    openai_error(model_call(&app, &token).await, 401, "invalid_credential").await;
    let on = json(app.patch_json(&path, &json!({"disabled": null})).await, 200).await;
    assert!(on.get("disabled").is_none(), "{on}");
    assert_eq!(model_call(&app, &token).await.status(), 200);

    assert_eq!(app.delete(&path).await.status(), 204);
    openai_error(model_call(&app, &token).await, 401, "invalid_credential").await;
    assert_error(app.get(&path).await, 404, "not_found").await;
    // Made disabled, it never works.
    let (_, dormant) = create(&app, json!({"disabled": true})).await;
    openai_error(model_call(&app, &dormant).await, 401, "invalid_credential").await;
    mock.stop().await;
}

#[actix_web::test]
async fn bad_bodies_are_refused_naming_every_field_at_once() {
    let app = spawn_app().await;
    let body = json!({
        "name": "", "metadata": 3, "accessKeyConfigurationId": "cfg_1",
        "expiresAt": "next week", "disabled": "yes",
    });
    let details = assert_violations(
        app.post_json("/access-keys", &body).await,
        &[
            "name",
            "metadata",
            "accessKeyConfigurationId",
            "expiresAt",
            "disabled",
        ],
    )
    .await;
    assert!(
        details["accessKeyConfigurationId"]
            .as_str()
            .unwrap()
            .contains("no access key configuration"),
        "{details}"
    );
    let (key, _) = create(&app, json!({"accessKeyConfigurationId": null})).await;
    let path = key["uri"].as_str().unwrap();
    assert_violations(
        app.patch_json(
            path,
            &json!({"accessKeyConfigurationId": "x", "description": "a\u{7}"}),
        )
        .await,
        &["accessKeyConfigurationId", "description"],
    )
    .await;
    let list = json(app.get("/access-keys").await, 200).await;
    assert_eq!(list["aiGatewayAccessKeys"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_patch_keeps_what_it_omits_and_honours_if_match_and_the_list_pages() {
    let app = spawn_app().await;
    let (key, _) = create(&app, json!({"name": "n", "description": "d"})).await;
    let path = key["uri"].as_str().unwrap().to_owned();
    let etag = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let res = app
        .req(Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&json!({"description": null, "metadata": "m"}))
        .send()
        .await
        .unwrap();
    let changed = json(res, 200).await;
    assert_eq!(
        (changed["name"].as_str(), changed["metadata"].as_str()),
        (Some("n"), Some("m"))
    );
    assert!(changed.get("description").is_none());
    let res = app
        .req(Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&json!({"name": "late"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;

    let mut made = vec![key["id"].as_str().unwrap().to_owned()];
    for _ in 0..2 {
        made.push(
            create(&app, json!({})).await.0["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    made.reverse();
    let mut paged = Vec::new();
    let mut next = Some("/access-keys?limit=2".to_owned());
    while let Some(uri) = next {
        let page = json(app.get(&uri).await, 200).await;
        assert_valid("AIGatewayAccessKeyList", &page);
        for k in page["aiGatewayAccessKeys"].as_array().unwrap() {
            paged.push(k["id"].as_str().unwrap().to_owned());
        }
        next = page["nextPageUri"].as_str().map(str::to_owned);
    }
    assert_eq!(paged, made);
    let res = app.req(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().is_empty());
}

#[actix_web::test]
async fn the_token_is_in_no_file_of_the_data_dir_and_its_use_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let mock = with_upstream(&app).await;
    let (key, token) = create(&app, json!({})).await;
    let path = key["uri"].as_str().unwrap().to_owned();
    assert_eq!(model_call(&app, &token).await.status(), 200);
    let mut after = Value::Null;
    for _ in 0..100 {
        after = json(app.get(&path).await, 200).await;
        if !after["lastUsed"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(after["lastUsed"].is_string(), "{after}");
    assert_eq!(after["updatedAt"], key["updatedAt"]);
    app.stop().await;
    assert_eq!(
        files_holding(dir.path(), &token[4..]),
        Vec::<std::path::PathBuf>::new()
    );
    let app = spawn_app_in(dir.path(), |_| {}).await;
    assert_eq!(model_call(&app, &token).await.status(), 200);
    app.stop().await;
    mock.stop().await;
}
