//! Extra headers under a credential's name (`api-key`, `*-token`, …): sealed in the data dir,
//! answered as `********`, kept by sending `********` back, sent upstream in the clear, still
//! readable after the master key's rotation, and sealed when a format-2 data dir is opened.

use std::path::Path;

use serde_json::{Value, json};

use crate::fixture::{FORMAT_2_SECRETS, files_holding, store_format_2};
use crate::helpers::data_plane::{call, chat};
use crate::helpers::{TestApp, assert_violations, spawn_app_in};
use crate::upstream::Mock;

const API_KEY: &str = "azure-sealed-key-6d1f0a";
const TOKEN: &str = "tok-sealed-b7c2e9";

async fn create(app: &TestApp, mock: &Mock) -> Value {
    app.create(&json!({
        "providerId": "azure", "name": "Azure", "baseUrl": format!("{}/v1", mock.base),
        "network": {"extraHeaders": {"Api-Key": API_KEY, "X-Auth-Token": TOKEN,
                                     "X-Tenant": "homelab"}}
    }))
    .await
}

fn no_file_holds(dir: &Path, secrets: &[&str]) {
    for secret in secrets {
        assert_eq!(
            files_holding(dir, secret),
            Vec::<std::path::PathBuf>::new(),
            "{secret}"
        );
    }
}

#[actix_web::test]
async fn a_credential_header_is_sealed_at_rest_answered_redacted_and_sent_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let mock = Mock::start().await;
    let created = create(&app, &mock).await;
    let redacted =
        json!({"api-key": "********", "x-auth-token": "********", "x-tenant": "homelab"});
    assert_eq!(created["network"]["extraHeaders"], redacted);
    let path = format!("/providers/{}", created["id"].as_str().unwrap());
    let read: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(read["network"]["extraHeaders"], redacted);
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["aiGatewayProviders"][0]["network"], read["network"]);

    assert_eq!(
        call(&app, "/v1/chat/completions", chat("azure:m"))
            .await
            .status(),
        200
    );
    let seen = mock.last();
    assert_eq!(seen.headers["api-key"], API_KEY);
    assert_eq!(seen.headers["x-auth-token"], TOKEN);
    assert_eq!(seen.headers["x-tenant"], "homelab");

    // `********` keeps the stored value; a new value replaces it.
    let res = app
        .patch_json(
            &path,
            &json!({"network": {"extraHeaders": {"api-key": "********", "x-auth-token": "tok-next",
                                                 "X-Tenant": "lab"}}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    call(&app, "/v1/chat/completions", chat("azure:m")).await;
    let seen = mock.last();
    assert_eq!(seen.headers["api-key"], API_KEY);
    assert_eq!(seen.headers["x-auth-token"], "tok-next");
    assert_eq!(seen.headers["x-tenant"], "lab");
    // … but keeps nothing where nothing is stored under that name.
    assert_violations(
        app.patch_json(
            &path,
            &json!({"network": {"extraHeaders": {"x-goog-api-key": "********"}}}),
        )
        .await,
        &["network.extraHeaders.x-goog-api-key"],
    )
    .await;
    app.stop().await;
    no_file_holds(dir.path(), &[API_KEY, TOKEN, "tok-next"]);
}

#[actix_web::test]
async fn sealed_headers_still_open_after_the_master_key_is_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let mock = Mock::start().await;
    create(&app, &mock).await;
    app.stop().await;
    let old_key = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
    // The offline command's work, on a thread of its own: it blocks, as the command may.
    let data = dir.path().to_owned();
    let rotated = std::thread::spawn(move || {
        let mut settings = modelgate::config::Settings::default();
        settings.storage.data_dir = data;
        let store = modelgate::startup::open_store(&settings).unwrap();
        modelgate::master_key::rotate(&settings, &store, None)
            .unwrap()
            .rewrapped
    });
    let rewrapped = rotated.join().unwrap();
    assert_ne!(
        std::fs::read_to_string(dir.path().join("master.key")).unwrap(),
        old_key
    );
    let app = spawn_app_in(dir.path(), |_| {}).await;
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("azure:m"))
            .await
            .status(),
        200
    );
    assert_eq!(mock.last().headers["api-key"], API_KEY);
    assert_eq!(mock.last().headers["x-auth-token"], TOKEN);
    app.stop().await;
    assert_eq!(rewrapped, 1, "one provider, its headers re-wrapped");
}

/// `tests/fixtures/store-format-2` holds `old-azure`'s credential headers in the clear, as
/// the release before format 3 stored them: opened by this one, they are sealed, answered as
/// `********`, still sent, and in no file of the data dir any more.
#[actix_web::test]
async fn a_format_2_data_dir_has_its_plaintext_headers_sealed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    store_format_2(dir.path());
    assert!(!files_holding(dir.path(), FORMAT_2_SECRETS[0]).is_empty());
    let app = spawn_app_in(dir.path(), |_| {}).await;
    no_file_holds(dir.path(), &FORMAT_2_SECRETS);
    let list: Value = app.get("/providers").await.json().await.unwrap();
    let old = list["aiGatewayProviders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["providerId"] == "old-azure")
        .unwrap()
        .clone();
    assert_eq!(
        old["network"],
        json!({"maxRetries": 1, "extraHeaders": {"api-key": "********",
               "x-auth-token": "********", "x-tenant": "homelab"}})
    );
    let mock = Mock::start().await;
    let res = app
        .patch_json(
            &format!("/providers/{}", old["id"].as_str().unwrap()),
            &json!({"baseUrl": format!("{}/v1", mock.base)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("old-azure:tiny"))
            .await
            .status(),
        200
    );
    assert_eq!(mock.last().headers["api-key"], FORMAT_2_SECRETS[0]);
    assert_eq!(mock.last().headers["x-auth-token"], FORMAT_2_SECRETS[1]);
    app.stop().await;
    no_file_holds(dir.path(), &FORMAT_2_SECRETS);
    let marker = std::fs::read_to_string(dir.path().join("format-version")).unwrap();
    assert_eq!(marker.trim(), "5");
}
