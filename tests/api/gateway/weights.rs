//! Bifrost's key `weight` and `models` on the ngrok API and on the data plane: a key limited
//! to some models is never sent with another, and among the keys that may serve a call their
//! weights share the first tries by smooth weighted round robin, exactly.

use serde_json::{Value, json};

use crate::helpers::data_plane::{call, chat, openai_error, registered};
use crate::helpers::{TestApp, spawn_app};
use crate::schema::assert_valid;
use crate::upstream::Mock;

async fn weighted_key(app: &TestApp, provider: &str, value: &str, extra: Value) -> Value {
    let mut body = json!({"providerId": provider, "name": "k", "value": value});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let res = app.post_json("/provider-keys", &body).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

/// Which of `keys` each call the mock saw was made with, by its Authorization header.
fn counts(mock: &Mock, keys: &[&str]) -> Vec<usize> {
    let seen = mock.seen();
    keys.iter()
        .map(|k| {
            let auth = format!("Bearer {k}");
            seen.iter()
                .filter(|s| s.headers.get("authorization") == Some(&auth))
                .count()
        })
        .collect()
}

#[actix_web::test]
async fn weight_and_models_are_shown_only_when_set_and_patched_like_the_rest() {
    let app = spawn_app().await;
    let plain = weighted_key(&app, "openai", "sk-plain-0123456789", json!({})).await;
    assert!(plain.get("weight").is_none() && plain.get("models").is_none());
    assert_valid("AIGatewayProviderAPIKeyDetail", &plain);

    let set = weighted_key(
        &app,
        "openai",
        "sk-set-0123456789",
        json!({"weight": 2.5, "models": ["gpt-4o"]}),
    )
    .await;
    assert_eq!(set["weight"], 2.5);
    assert_eq!(set["models"], json!(["gpt-4o"]));
    let uri = set["uri"].as_str().unwrap();
    let read: Value = app.get(uri).await.json().await.unwrap();
    assert_eq!(read, set);

    let res = app
        .patch_json(uri, &json!({"weight": 4, "models": ["gpt-4o", "o3"]}))
        .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(patched["weight"], 4.0);
    assert_eq!(patched["models"], json!(["gpt-4o", "o3"]));
    assert_eq!(patched["name"], "k");

    // A PATCH of another field keeps them; `null` takes them away.
    let res = app.patch_json(uri, &json!({"description": "d"})).await;
    let kept: Value = res.json().await.unwrap();
    assert_eq!(
        (&kept["weight"], &kept["models"]),
        (&json!(4.0), &json!(["gpt-4o", "o3"]))
    );
    let res = app
        .patch_json(uri, &json!({"weight": null, "models": null}))
        .await;
    let cleared: Value = res.json().await.unwrap();
    assert!(cleared.get("weight").is_none() && cleared.get("models").is_none());
    let listed: Value = app.get("/provider-keys").await.json().await.unwrap();
    assert!(
        listed["aiGatewayProviderKeys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("weight").is_none())
    );

    // Bad values are refused by field and rule, and nothing is stored.
    for (body, field) in [
        (json!({"weight": 0}), "weight"),
        (json!({"weight": 1001}), "weight"),
        (json!({"models": ["a", "A"]}), "models"),
        (json!({"models": [""]}), "models"),
    ] {
        let res = app.patch_json(uri, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        let text = res.text().await.unwrap();
        assert!(text.contains(field), "{text}");
    }
    let mut create = json!({"providerId": "openai", "name": "k", "value": "sk-x-0123456789"});
    create["weight"] = json!(-1);
    assert_eq!(app.post_json("/provider-keys", &create).await.status(), 400);

    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let detail = &doc["components"]["schemas"]["AIGatewayProviderAPIKeyDetail"]["properties"];
    assert_eq!(detail["weight"]["type"], "number");
    assert_eq!(detail["models"]["type"], "array");
}

#[actix_web::test]
async fn keys_weighted_three_and_one_serve_eight_calls_as_six_and_two() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m"], json!(null)))
        .await;
    weighted_key(&app, "box", "sk-heavy-0123456789", json!({"weight": 3})).await;
    weighted_key(&app, "box", "sk-light-0123456789", json!({"weight": 1})).await;
    for _ in 0..8 {
        assert_eq!(
            call(&app, "/v1/chat/completions", chat("box:m"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        counts(&mock, &["sk-heavy-0123456789", "sk-light-0123456789"]),
        [6, 2]
    );
}

#[actix_web::test]
async fn without_weights_the_newest_key_keeps_every_call() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m"], json!(null)))
        .await;
    weighted_key(&app, "box", "sk-older-0123456789", json!({})).await;
    weighted_key(&app, "box", "sk-newest-0123456789", json!({})).await;
    for _ in 0..4 {
        assert_eq!(
            call(&app, "/v1/chat/completions", chat("box:m"))
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        counts(&mock, &["sk-older-0123456789", "sk-newest-0123456789"]),
        [0, 4]
    );
}

#[actix_web::test]
async fn a_key_limited_to_model_a_is_not_used_for_model_b() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["a", "b"], json!(null)))
        .await;
    weighted_key(&app, "box", "sk-any-0123456789", json!({})).await;
    // The newest key, tried first, but only for `a`.
    weighted_key(
        &app,
        "box",
        "sk-only-a-0123456789",
        json!({"models": ["a"]}),
    )
    .await;
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("box:b"))
            .await
            .status(),
        200
    );
    assert_eq!(
        counts(&mock, &["sk-any-0123456789", "sk-only-a-0123456789"]),
        [1, 0]
    );
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("box:a"))
            .await
            .status(),
        200
    );
    assert_eq!(
        counts(&mock, &["sk-any-0123456789", "sk-only-a-0123456789"]),
        [1, 1]
    );
}

#[actix_web::test]
async fn when_no_key_may_serve_the_model_none_is_usable() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["a", "b"], json!(null)))
        .await;
    weighted_key(
        &app,
        "box",
        "sk-only-a-0123456789",
        json!({"models": ["a"]}),
    )
    .await;
    let res = call(&app, "/v1/chat/completions", chat("box:b")).await;
    openai_error(res, 503, "no_usable_key").await;
    assert!(mock.seen().is_empty());
}
