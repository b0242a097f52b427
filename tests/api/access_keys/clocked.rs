//! Access keys and time, by a clock each test moves: expiry, a rotation's grace for the old
//! token, and requests per minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::Method;

use super::{assert_ngrok_shape, create, json, model_call, with_upstream};
use crate::helpers::data_plane::openai_error;
use crate::helpers::{ADMIN_TOKEN, TestApp, assert_error, assert_violations, spawn_app_clocked};

const START: u64 = 1_900_000_000_000;

/// A server whose credentials' clock reads the returned handle, starting at [`START`].
async fn clocked_app(dir: &std::path::Path) -> (TestApp, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(START));
    let read = Arc::clone(&now);
    let app = spawn_app_clocked(dir, |_| {}, Arc::new(move || read.load(Ordering::SeqCst))).await;
    (app, now)
}

#[actix_web::test]
async fn a_key_past_its_expiry_is_refused_by_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (app, now) = clocked_app(dir.path()).await;
    let mock = with_upstream(&app).await;
    let at = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(START + 60_000),
    )
    .to_string();
    let (key, token) = create(&app, json!({"expiresAt": at})).await;
    assert_eq!(key["expiresAt"], at);
    assert_eq!(model_call(&app, &token).await.status(), 200);
    now.store(START + 59_999, Ordering::SeqCst);
    assert_eq!(model_call(&app, &token).await.status(), 200);
    now.store(START + 60_000, Ordering::SeqCst);
    openai_error(model_call(&app, &token).await, 401, "invalid_credential").await;

    // A time already past is refused when written; clearing the expiry brings the key back.
    let path = key["uri"].as_str().unwrap();
    let details = assert_violations(
        app.patch_json(path, &json!({"expiresAt": at})).await,
        &["expiresAt"],
    )
    .await;
    assert!(details["expiresAt"].as_str().unwrap().contains("future"));
    let cleared = json(app.patch_json(path, &json!({"expiresAt": null})).await, 200).await;
    assert!(cleared.get("expiresAt").is_none(), "{cleared}");
    assert_eq!(model_call(&app, &token).await.status(), 200);
    app.stop().await;
    mock.stop().await;
}

#[actix_web::test]
async fn a_rotation_answers_a_new_token_and_the_old_one_works_for_its_grace() {
    let dir = tempfile::tempdir().unwrap();
    let (app, now) = clocked_app(dir.path()).await;
    let mock = with_upstream(&app).await;
    let (key, old) = create(&app, json!({"name": "r"})).await;
    let rotate = format!("{}/rotate", key["uri"].as_str().unwrap());

    let res = app.post_json(&rotate, &json!({"graceSeconds": 60})).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let rotated = json(res, 200).await;
    assert_ngrok_shape(&rotated);
    assert_eq!(rotated["id"], key["id"]);
    let new = rotated["token"].as_str().unwrap().to_owned();
    assert!(new.starts_with("mga_") && new != old);
    assert_eq!(
        rotated["keyRedacted"],
        format!("mga_…{}", &new[new.len() - 4..])
    );
    assert!(etag.ends_with("-2\""), "{etag}");
    let got = json(app.get(key["uri"].as_str().unwrap()).await, 200).await;
    assert!(got.get("token").is_none());
    assert_eq!(got["keyRedacted"], rotated["keyRedacted"]);

    for token in [&old, &new] {
        assert_eq!(model_call(&app, token).await.status(), 200);
    }
    now.store(START + 60_000, Ordering::SeqCst);
    openai_error(model_call(&app, &old).await, 401, "invalid_credential").await;
    assert_eq!(model_call(&app, &new).await.status(), 200);

    // Without a grace (no body), the token it replaces stops at once.
    let newer = json(app.post_json(&rotate, &json!({})).await, 200).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    openai_error(model_call(&app, &new).await, 401, "invalid_credential").await;
    assert_eq!(model_call(&app, &newer).await.status(), 200);

    let res = app
        .req(Method::POST, &rotate)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;
    let details = assert_violations(
        app.post_json(&rotate, &json!({"graceSeconds": 86401}))
            .await,
        &["graceSeconds"],
    )
    .await;
    assert!(
        details["graceSeconds"].as_str().unwrap().contains("86400"),
        "{details}"
    );
    assert_eq!(model_call(&app, &newer).await.status(), 200);
    app.stop().await;
    mock.stop().await;
}

#[actix_web::test]
async fn requests_per_minute_are_counted_per_key_and_answered_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let (app, now) = clocked_app(dir.path()).await;
    let mock = with_upstream(&app).await;
    let (key, token) = create(&app, json!({"requestsPerMinute": 2})).await;
    assert_eq!(key["requestsPerMinute"], 2);
    let (_, other) = create(&app, json!({})).await;
    assert!(json(app.get(key["uri"].as_str().unwrap()).await, 200).await["requestsPerMinute"] == 2);

    for _ in 0..2 {
        assert_eq!(model_call(&app, &token).await.status(), 200);
    }
    now.store(START + 20_000, Ordering::SeqCst);
    let res = model_call(&app, &token).await;
    assert_eq!(res.headers()["retry-after"], "40");
    openai_error(res, 429, "requests_per_minute_exceeded").await;
    // Another key, and the admin token, are not counted with it.
    assert_eq!(model_call(&app, &other).await.status(), 200);
    assert_eq!(model_call(&app, ADMIN_TOKEN).await.status(), 200);
    now.store(START + 60_000, Ordering::SeqCst);
    assert_eq!(model_call(&app, &token).await.status(), 200);

    let path = key["uri"].as_str().unwrap();
    assert_violations(
        app.patch_json(path, &json!({"requestsPerMinute": 0})).await,
        &["requestsPerMinute"],
    )
    .await;
    let unlimited = json(
        app.patch_json(path, &json!({"requestsPerMinute": null}))
            .await,
        200,
    )
    .await;
    assert!(unlimited.get("requestsPerMinute").is_none(), "{unlimited}");
    for _ in 0..3 {
        assert_eq!(model_call(&app, &token).await.status(), 200);
    }
    app.stop().await;
    mock.stop().await;
}
