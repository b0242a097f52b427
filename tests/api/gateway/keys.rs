//! Provider keys on the data plane: injected in each format's header, catalog providers' keys
//! at the configured base URL, and each use recorded as last used.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::data_plane::{add_key, call, openai_error, registered};
use crate::helpers::{ADMIN_TOKEN, spawn_app, spawn_app_with};
use crate::upstream::Mock;

#[actix_web::test]
async fn the_providers_key_is_injected_in_its_formats_header() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let surfaces = json!([{"format": "openai"}, {"format": "anthropic"}]);
    app.create(&registered(
        "llamacpp",
        &format!("{}/v1", mock.base),
        &[],
        surfaces,
    ))
    .await;
    add_key(&app, "llamacpp", "sk-upstream-0123456789").await;

    assert_eq!(
        call(
            &app,
            "/v1/embeddings",
            json!({"model": "llamacpp:e", "input": "x"})
        )
        .await
        .status(),
        200
    );
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/embeddings");
    assert_eq!(
        seen.headers["authorization"],
        "Bearer sk-upstream-0123456789"
    );
    assert!(!seen.headers.contains_key("x-api-key"));

    // Anthropic's SDKs: the newer send Authorization: Bearer, the older x-api-key.
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", ADMIN_TOKEN)
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "tools-2024-04-04")
        .json(&json!({"model": "llamacpp:m", "max_tokens": 8, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], "sk-upstream-0123456789");
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert_eq!(seen.headers["anthropic-beta"], "tools-2024-04-04");
    assert!(!seen.headers.contains_key("authorization"));
    let res = call(
        &app,
        "/v1/v1/messages/count_tokens",
        json!({"model": "llamacpp:m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages/count_tokens");
    assert_eq!(
        seen.headers["anthropic-version"], "2023-06-01",
        "the default version"
    );
    assert!(!format!("{:?}", mock.seen()).contains(ADMIN_TOKEN));
    mock.stop().await;
}

#[actix_web::test]
async fn catalog_providers_use_their_keys_at_the_configured_base_url() {
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    let app = spawn_app_with(|s| {
        s.catalog.insert(
            "openai".into(),
            modelgate::config::CatalogSettings {
                base_url: Some(base),
            },
        );
    })
    .await;
    let err = openai_error(
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": "openai:gpt-4o"}),
        )
        .await,
        503,
        "no_usable_key",
    )
    .await;
    assert!(
        err["message"].as_str().unwrap().contains("`openai`"),
        "{err}"
    );
    add_key(&app, "openai", "env.PATH").await;
    let older = add_key(&app, "openai", "sk-older-key-000000").await;
    let newest = add_key(&app, "openai", "sk-newest-key-11111").await;
    assert_eq!(
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": "openai:gpt-4o"})
        )
        .await
        .status(),
        200
    );
    let seen = mock.last();
    assert_eq!(seen.headers["authorization"], "Bearer sk-newest-key-11111");
    assert_eq!(seen.body["model"], "gpt-4o");
    // The newest key is used; a deleted one is gone from the next call on.
    app.delete(&format!(
        "/provider-keys/{}",
        newest["id"].as_str().unwrap()
    ))
    .await;
    call(
        &app,
        "/v1/chat/completions",
        json!({"model": "openai:gpt-4o"}),
    )
    .await;
    assert_eq!(
        mock.last().headers["authorization"],
        "Bearer sk-older-key-000000"
    );
    app.delete(&format!("/provider-keys/{}", older["id"].as_str().unwrap()))
        .await;
    // An env.NAME key is read from the environment when used.
    call(
        &app,
        "/v1/chat/completions",
        json!({"model": "openai:gpt-4o"}),
    )
    .await;
    let path = std::env::var("PATH").unwrap();
    assert_eq!(
        mock.last().headers["authorization"],
        format!("Bearer {path}")
    );
    mock.stop().await;
}

#[actix_web::test]
async fn each_key_use_is_recorded_as_last_used_without_a_new_version() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("used", &mock.base, &[], json!(null)))
        .await;
    let key = add_key(&app, "used", "sk-used-key-0123456789").await;
    let path = format!("/provider-keys/{}", key["id"].as_str().unwrap());
    assert_eq!(
        call(&app, "/v1/chat/completions", json!({"model": "used:m"}))
            .await
            .status(),
        200
    );
    // Written in the next batch (once a second); polled, bounded.
    let mut after = Value::Null;
    for _ in 0..100 {
        after = app.get(&path).await.json().await.unwrap();
        if !after["lastUsed"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        humantime::parse_rfc3339(after["lastUsed"].as_str().unwrap()).is_ok(),
        "{after}"
    );
    assert_eq!(after["updatedAt"], key["updatedAt"]);
    let etag = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(etag.ends_with("-1\""), "{etag}");
    mock.stop().await;
}
