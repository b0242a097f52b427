//! An access key's scope on the data plane: candidates outside its configuration's `access` are
//! never tried, a model left with none is 403 `model_not_allowed` in the route's format, a
//! fallback left with none is listed as `not_allowed`, `/v1/models` and a `model_not_found`
//! message show only what the key may use, a re-scope applies from the next call, and
//! `gateway.require_access_keys` keeps management credentials off `/v1`.

use serde_json::{Value, json};

use super::configurations::configure;
use super::{create as create_key, json as answer};
use crate::helpers::data_plane::{
    anthropic_error, call, chat, failing, header, openai_error, registered,
};
use crate::helpers::{ADMIN_TOKEN, TestApp, assert_error, spawn_app, spawn_app_with};
use crate::upstream::Mock;

/// Providers `a` and `b` at their own mocks, both declaring `shared`, `a` also `only-a`, and
/// `c` declaring `llama3.1:8b` (a name whose prefix is no provider); both formats' chat.
async fn three(app: &TestApp) -> (Mock, Mock, Mock) {
    let surfaces = json!([{"format": "openai", "surface": "chat-completions"},
                          {"format": "anthropic", "surface": "messages"}]);
    let (a, b, c) = (
        Mock::start().await,
        Mock::start().await,
        Mock::start().await,
    );
    for (slug, mock, models) in [
        ("a", &a, &["shared", "Only-A"][..]),
        ("b", &b, &["shared"][..]),
        ("c", &c, &["llama3.1:8b"][..]),
    ] {
        app.create(&registered(slug, &mock.base, models, surfaces.clone()))
            .await;
    }
    (a, b, c)
}

/// A key scoped by a new configuration with `access`, and that configuration.
async fn scoped(app: &TestApp, access: Value) -> (String, Value) {
    let made = configure(app, json!({"name": "scope", "access": access})).await;
    let (_, token) = create_key(app, json!({"accessKeyConfigurationId": made["id"]})).await;
    (token, made)
}

async fn chat_as(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Where a call for `model` went (`x-modelgate-provider`), or its error code.
async fn reached(app: &TestApp, token: &str, model: &str) -> String {
    let res = chat_as(app, token, chat(model)).await;
    if res.status() == 200 {
        return header(&res, "x-modelgate-provider").to_owned();
    }
    let body: Value = res.json().await.unwrap();
    body["error"]["code"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn each_shape_of_access_allows_what_it_names_and_nothing_else() {
    let app = spawn_app().await;
    let _mocks = three(&app).await;
    let names = [
        "shared",
        "a:shared",
        "b:shared",
        "a:only-a",
        "llama3.1:8b",
        "c:llama3.1:8b",
    ];
    let cases: [(Value, [&str; 6]); 9] = [
        // No access at all, or no dimension: everything.
        (json!({}), ["a", "a", "b", "a", "c", "c"]),
        (json!({"providers": {}}), ["a", "a", "b", "a", "c", "c"]),
        // Providers by providerId: a bare name reaches only the allowed provider.
        (
            json!({"providers": {"allow": ["b"]}}),
            [
                "b",
                "model_not_allowed",
                "b",
                "model_not_allowed",
                "model_not_allowed",
                "model_not_allowed",
            ],
        ),
        (
            json!({"providers": {"allow": []}}),
            ["model_not_allowed"; 6],
        ),
        // providerId:modelId, its model id ignoring case.
        (
            json!({"models": {"allow": ["a:ONLY-a", "b:shared"]}}),
            [
                "b",
                "model_not_allowed",
                "b",
                "a",
                "model_not_allowed",
                "model_not_allowed",
            ],
        ),
        // A bare model id: at any provider; a prefix that is no provider makes one bare.
        (
            json!({"models": {"allow": ["shared", "llama3.1:8b"]}}),
            ["a", "a", "b", "model_not_allowed", "c", "c"],
        ),
        // providerId:*: every model of that provider.
        (
            json!({"models": {"allow": ["a:*"]}}),
            [
                "a",
                "a",
                "model_not_allowed",
                "a",
                "model_not_allowed",
                "model_not_allowed",
            ],
        ),
        (json!({"models": {"allow": []}}), ["model_not_allowed"; 6]),
        // Both dimensions must pass.
        (
            json!({"providers": {"allow": ["a", "c"]}, "models": {"allow": ["shared", "c:*"]}}),
            ["a", "a", "model_not_allowed", "model_not_allowed", "c", "c"],
        ),
    ];
    for (access, want) in cases {
        let (token, _) = scoped(&app, access.clone()).await;
        for (name, want) in names.iter().zip(want) {
            assert_eq!(reached(&app, &token, name).await, want, "{access} {name}");
        }
    }
    // The admin token is not scoped.
    let res = call(&app, "/v1/chat/completions", chat("c:llama3.1:8b")).await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn a_provider_by_id_scopes_and_candidates_outside_are_never_tried() {
    let app = spawn_app().await;
    let (a, b, _c) = three(&app).await;
    let providers = answer(app.get("/providers?limit=100").await, 200).await;
    let b_id = providers["aiGatewayProviders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["providerId"] == "b")
        .unwrap()["id"]
        .clone();
    let (token, _) = scoped(&app, json!({"providers": {"allow": [b_id]}})).await;
    // b fails: a, which declares `shared` too, is outside the scope and never tried.
    b.then(failing(500, vec![]));
    let res = chat_as(&app, &token, chat("shared")).await;
    assert_eq!(res.status(), 500);
    assert_eq!(header(&res, "x-modelgate-attempts"), "1");
    assert_eq!((a.seen().len(), b.seen().len()), (0, 1));
}

#[actix_web::test]
async fn a_model_not_allowed_is_403_in_each_formats_shape_naming_the_model() {
    let app = spawn_app().await;
    let _mocks = three(&app).await;
    let (token, _) = scoped(&app, json!({"models": {"allow": ["b:shared"]}})).await;
    let error = openai_error(
        chat_as(&app, &token, chat("a:only-a")).await,
        403,
        "model_not_allowed",
    )
    .await;
    assert_eq!(error["type"], "permission_error");
    assert_eq!(error["param"], "model");
    assert!(
        error["message"].as_str().unwrap().contains("`a:only-a`"),
        "{error}"
    );
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &token)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "c:llama3.1:8b", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let error = anthropic_error(res, 403, "permission_error").await;
    assert!(
        error["message"].as_str().unwrap().contains("c:llama3.1:8b"),
        "{error}"
    );
}

#[actix_web::test]
async fn a_fallback_model_not_allowed_is_listed_as_not_allowed_and_never_tried() {
    let app = spawn_app().await;
    let (a, b, c) = three(&app).await;
    let (token, _) = scoped(&app, json!({"providers": {"allow": ["b", "a"]}})).await;
    b.then(failing(500, vec![]));
    a.then(failing(429, vec![]));
    let mut body = chat("b:shared");
    body["models"] = json!(["c:llama3.1:8b", "a:only-a"]);
    let error = openai_error(
        chat_as(&app, &token, body).await,
        503,
        "all_attempts_failed",
    )
    .await;
    assert_eq!(
        error["attempts"],
        json!([
            {"provider": "b", "model": "shared", "status": 500, "error": "upstream_error"},
            {"provider": null, "model": "c:llama3.1:8b", "status": null, "error": "not_allowed"},
            {"provider": "a", "model": "Only-A", "status": 429, "error": "upstream_rate_limited"},
        ])
    );
    assert!(c.seen().is_empty());
}

#[actix_web::test]
async fn the_model_list_and_not_found_messages_show_only_what_the_key_may_use() {
    let app = spawn_app().await;
    let _mocks = three(&app).await;
    let (token, _) = scoped(&app, json!({"models": {"allow": ["a:only-a", "c:*"]}})).await;
    let get = |path: &'static str, token: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let list: Value = get("/v1/models", token.clone()).await.json().await.unwrap();
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a:Only-A", "c:llama3.1:8b"]);
    let all: Value = get("/v1/models", ADMIN_TOKEN.to_owned())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 4);
    assert_eq!(
        get("/v1/models/a:only-a", token.clone()).await.status(),
        200
    );
    openai_error(
        get("/v1/models/b:shared", token.clone()).await,
        404,
        "model_not_found",
    )
    .await;
    assert_eq!(
        get("/v1/models/b:shared", ADMIN_TOKEN.to_owned())
            .await
            .status(),
        200
    );

    let error = openai_error(
        chat_as(&app, &token, chat("a:nope")).await,
        404,
        "model_not_found",
    )
    .await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("Only-A") && !message.contains("shared"),
        "{message}"
    );
}

#[actix_web::test]
async fn a_re_scope_of_the_key_or_its_configuration_applies_on_the_next_call() {
    let app = spawn_app().await;
    let _mocks = three(&app).await;
    let (token, made) = scoped(&app, json!({"providers": {"allow": ["a"]}})).await;
    let uri = made["uri"].as_str().unwrap().to_owned();
    assert_eq!(reached(&app, &token, "b:shared").await, "model_not_allowed");
    answer(
        app.patch_json(&uri, &json!({"access": {"providers": {"allow": ["b"]}}}))
            .await,
        200,
    )
    .await;
    assert_eq!(reached(&app, &token, "b:shared").await, "b");
    assert_eq!(reached(&app, &token, "shared").await, "b");
    answer(app.patch_json(&uri, &json!({"access": null})).await, 200).await;
    assert_eq!(reached(&app, &token, "shared").await, "a");

    // The key moved to another configuration, then to none.
    let keys = answer(app.get("/access-keys").await, 200).await;
    let key = keys["aiGatewayAccessKeys"][0]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let none = configure(
        &app,
        json!({"name": "none", "access": {"models": {"allow": []}}}),
    )
    .await;
    answer(
        app.patch_json(&key, &json!({"accessKeyConfigurationId": none["id"]}))
            .await,
        200,
    )
    .await;
    assert_eq!(reached(&app, &token, "shared").await, "model_not_allowed");
    answer(
        app.patch_json(&key, &json!({"accessKeyConfigurationId": null}))
            .await,
        200,
    )
    .await;
    assert_eq!(reached(&app, &token, "c:llama3.1:8b").await, "c");
}

#[actix_web::test]
async fn require_access_keys_refuses_management_credentials_on_the_data_plane_only() {
    let app = spawn_app_with(|s| s.gateway.require_access_keys = true).await;
    let _mocks = three(&app).await;
    let (_, token) = create_key(&app, json!({})).await;
    let error = openai_error(
        call(&app, "/v1/chat/completions", chat("shared")).await,
        401,
        "access_key_required",
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("access key"),
        "{error}"
    );
    let res = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    openai_error(res, 401, "access_key_required").await;
    let made = answer(app.post_json("/api-keys", &json!({"name": "m"})).await, 201).await;
    let res = chat_as(&app, made["token"].as_str().unwrap(), chat("shared")).await;
    openai_error(res, 401, "access_key_required").await;
    assert_eq!(reached(&app, &token, "shared").await, "a");
    // The management API still takes them, and still refuses the access key.
    assert_eq!(app.get("/providers").await.status(), 200);
    let res = app
        .client
        .get(app.url("/providers"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "access_key_not_allowed").await;
}
