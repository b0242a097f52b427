//! Stored management API keys: made with `POST /api-keys`, the token shown once and kept only
//! as its digest, in force from the next request on (management API and data plane), changed
//! with PATCH (omit keeps, `null` clears, `If-Match`), deleted and refused at once, listed
//! beside the bootstrap credentials, `lastUsed` written in batches.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::json;
use crate::fixture::files_holding;
use crate::helpers::data_plane::{chat, registered};
use crate::helpers::{
    ADMIN_TOKEN, CI_TOKEN, TestApp, assert_error, assert_violations, provider, spawn_app,
    spawn_app_in,
};
use crate::schema::assert_valid;
use crate::upstream::Mock;

/// Creates a key with `body`, asserting the 201; answers the body, its token and its ETag.
async fn create(app: &TestApp, body: Value) -> (Value, String, String) {
    let res = app.post_json("/api-keys", &body).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let key = json(res, 201).await;
    assert_valid("AIGatewayAPIKey", &key);
    assert_eq!(location, key["uri"]);
    let token = key["token"].as_str().unwrap().to_owned();
    (key, token, etag)
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list["aiGatewayApiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_created_key_shows_its_prefixed_random_token_once() {
    let app = spawn_app().await;
    let (key, token, etag) = create(
        &app,
        json!({"name": "deploys", "description": "release job", "metadata": "{\"team\":1}"}),
    )
    .await;
    // `mgk_` and 256 bits in URL-safe base 64: 43 characters.
    let random = token.strip_prefix("mgk_").unwrap();
    assert_eq!(random.len(), 43, "{token}");
    assert!(
        random
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(
        key["keyRedacted"],
        format!("mgk_…{}", &token[token.len() - 4..])
    );
    assert_eq!(key["name"], "deploys");
    assert_eq!(key["description"], "release job");
    assert_eq!(key["metadata"], "{\"team\":1}");
    assert_eq!(
        key["createdBy"],
        json!({"id": "admin", "uri": "/api-keys/admin"})
    );
    assert_eq!(key["lastUpdatedBy"], key["createdBy"]);
    assert_eq!(key["lastUsed"], Value::Null);
    assert!(etag.ends_with("-1\""), "{etag}");
    assert!(humantime::parse_rfc3339(key["createdAt"].as_str().unwrap()).is_ok());

    // Never again: not in the get, the list or a change.
    let path = key["uri"].as_str().unwrap();
    let got = json(app.get(path).await, 200).await;
    assert_valid("AIGatewayAPIKey", &got);
    assert!(got.get("token").is_none(), "{got}");
    assert_eq!(got["keyRedacted"], key["keyRedacted"]);
    let list = json(app.get("/api-keys").await, 200).await;
    assert_valid("AIGatewayAPIKeyList", &list);
    let changed = json(app.patch_json(path, &json!({"name": "x"})).await, 200).await;
    for text in [got.to_string(), list.to_string(), changed.to_string()] {
        assert!(!text.contains(&token[4..]), "{text}");
    }

    // Another key, another token; a body with nothing in it makes a key with no name.
    let (bare, other, _) = create(&app, json!({})).await;
    assert_ne!(other, token);
    assert!(bare.get("name").is_none() && bare.get("description").is_none());
}

#[actix_web::test]
async fn a_created_key_works_at_once_everywhere_and_a_deleted_one_is_refused_at_once() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "up",
        &format!("{}/v1", mock.base),
        &[],
        json!(null),
    ))
    .await;
    let (key, token, _) = create(&app, json!({"name": "app"})).await;
    let id = key["id"].as_str().unwrap();

    // The management API, with what it makes naming the key, whose ref answers.
    assert_eq!(get_as(&app, &token, "/providers").await.status(), 200);
    let made = app
        .client
        .post(app.url("/providers"))
        .bearer_auth(&token)
        .json(&provider("by-key"))
        .send()
        .await
        .unwrap();
    let made = json(made, 201).await;
    assert_eq!(made["createdBy"]["id"], id);
    let by = json(
        app.get(made["createdBy"]["uri"].as_str().unwrap()).await,
        200,
    )
    .await;
    assert_eq!(by["id"], id);
    // A key made by a key names it.
    let res = app
        .client
        .post(app.url("/api-keys"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(res, 201).await["createdBy"]["uri"],
        format!("/api-keys/{id}")
    );

    // The data plane, as Bearer and as x-api-key.
    for send in [
        app.client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&token),
        app.client
            .post(app.url("/v1/chat/completions"))
            .header("x-api-key", &token),
    ] {
        let res = send.json(&chat("up:m")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(mock.last().path, "/v1/chat/completions");

    assert_eq!(app.delete(&format!("/api-keys/{id}")).await.status(), 204);
    assert_error(
        get_as(&app, &token, "/providers").await,
        401,
        "unauthorized",
    )
    .await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&token)
        .json(&chat("up:m"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_error(app.get(&format!("/api-keys/{id}")).await, 404, "not_found").await;
    assert_error(
        app.delete(&format!("/api-keys/{id}")).await,
        404,
        "not_found",
    )
    .await;
    mock.stop().await;
}

#[actix_web::test]
async fn the_token_is_in_no_file_of_the_data_dir_and_works_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let (key, token, _) = create(&app, json!({"name": "kept"})).await;
    assert_eq!(get_as(&app, &token, "/api-keys").await.status(), 200);
    app.stop().await;
    assert_eq!(
        files_holding(dir.path(), &token),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        files_holding(dir.path(), &token[4..]),
        Vec::<std::path::PathBuf>::new()
    );
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let again = json(
        get_as(&app, &token, key["uri"].as_str().unwrap()).await,
        200,
    )
    .await;
    assert_eq!(again["name"], "kept");
    app.stop().await;
}

#[actix_web::test]
async fn a_patch_keeps_what_it_omits_clears_what_it_nulls_and_honours_if_match() {
    let app = spawn_app().await;
    let (key, _, etag) = create(
        &app,
        json!({"name": "n", "description": "d", "metadata": "m"}),
    )
    .await;
    let path = key["uri"].as_str().unwrap().to_owned();

    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(CI_TOKEN)
        .header("if-match", &etag)
        .json(&json!({"description": null, "metadata": "m2"}))
        .send()
        .await
        .unwrap();
    let next_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let changed = json(res, 200).await;
    assert_valid("AIGatewayAPIKey", &changed);
    assert_eq!(changed["name"], "n");
    assert!(changed.get("description").is_none(), "{changed}");
    assert_eq!(changed["metadata"], "m2");
    assert_eq!(changed["lastUpdatedBy"]["id"], "ci");
    assert_eq!(changed["createdBy"]["id"], "admin");
    assert_eq!(changed["keyRedacted"], key["keyRedacted"]);
    assert_ne!(next_etag, etag);

    // The old tag no longer matches; nothing changes.
    let res = app
        .req(Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&json!({"name": "late"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;
    let res = app
        .req(Method::DELETE, &path)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;

    // No body, and `{}`, change nothing; `null` clears the name.
    let res = app.req(Method::PATCH, &path).send().await.unwrap();
    assert_eq!(res.headers()["etag"].to_str().unwrap(), next_etag);
    assert_eq!(json(res, 200).await["metadata"], "m2");
    let cleared = json(app.patch_json(&path, &json!({"name": null})).await, 200).await;
    assert!(cleared.get("name").is_none(), "{cleared}");
    let got = app.get(&path).await;
    let tag = got.headers()["etag"].to_str().unwrap().to_owned();
    assert!(tag.ends_with("-3\""), "{tag}");
    let res = app
        .req(Method::GET, &path)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    let res = app
        .req(Method::DELETE, &path)
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[actix_web::test]
async fn bad_bodies_are_refused_naming_every_field_at_once() {
    let app = spawn_app().await;
    let body = json!({"name": "", "description": "line\nbreak", "metadata": 7});
    let details = assert_violations(
        app.post_json("/api-keys", &body).await,
        &["name", "description", "metadata"],
    )
    .await;
    assert!(
        details["name"].as_str().unwrap().contains("required"),
        "{details}"
    );
    let (key, _, _) = create(&app, json!({"name": "ok"})).await;
    let path = key["uri"].as_str().unwrap();
    let long = "x".repeat(256);
    assert_violations(
        app.patch_json(
            path,
            &json!({"name": "  ", "description": long, "metadata": [1]}),
        )
        .await,
        &["name", "description", "metadata"],
    )
    .await;
    let res = app.post_json("/api-keys", &json!({"token": "mine"})).await;
    let body: Value = res.json().await.unwrap();
    assert!(body["details"]["token"].is_string(), "{body}");
    // Nothing was made or changed.
    let list = json(app.get("/api-keys").await, 200).await;
    assert_eq!(ids(&list).len(), 3, "{list}");
    assert_eq!(json(app.get(path).await, 200).await["name"], "ok");
}

#[actix_web::test]
async fn stored_keys_list_beside_the_bootstrap_ones_by_id_descending() {
    let app = spawn_app().await;
    let mut made = Vec::new();
    for n in 0..3 {
        made.push(
            create(&app, json!({"name": format!("k{n}")})).await.0["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let all = json(app.get("/api-keys").await, 200).await;
    let want = ["ci", "admin", &made[2], &made[1], &made[0]];
    assert_eq!(ids(&all), want);
    for key in all["aiGatewayApiKeys"].as_array().unwrap() {
        assert!(key.get("token").is_none());
    }

    let mut paged = Vec::new();
    let mut next = Some("/api-keys?limit=2".to_owned());
    while let Some(uri) = next {
        let page = json(app.get(&uri).await, 200).await;
        assert_valid("AIGatewayAPIKeyList", &page);
        paged.extend(ids(&page));
        next = page["nextPageUri"].as_str().map(str::to_owned);
    }
    assert_eq!(paged, want);
    let after = json(
        app.get(&format!("/api-keys?beforeId={}", made[2])).await,
        200,
    )
    .await;
    assert_eq!(ids(&after), [made[1].as_str(), made[0].as_str()]);
    let after = json(app.get("/api-keys?beforeId=admin&limit=1").await, 200).await;
    assert_eq!(ids(&after), [made[2].as_str()]);
    assert_eq!(
        after["nextPageUri"],
        format!("/api-keys?beforeId={}&limit=1", made[2])
    );
    // A cursor that is no id sorts as text, as every other.
    let after = json(app.get("/api-keys?beforeId=0").await, 200).await;
    assert!(ids(&after).is_empty(), "{after}");

    let res = app
        .req(Method::HEAD, &format!("/api-keys/{}", made[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("etag"));
    assert!(res.bytes().await.unwrap().is_empty());
    assert_error(
        app.get("/api-keys/01ARZ3NDEKTSV4RRFFQ69G5FAV").await,
        404,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn each_use_of_a_stored_key_is_recorded_as_last_used_without_a_new_version() {
    let app = spawn_app().await;
    let (key, token, _) = create(&app, json!({})).await;
    let path = key["uri"].as_str().unwrap();
    assert_eq!(get_as(&app, &token, "/providers").await.status(), 200);
    // Written in the next batch (once a second); polled, bounded.
    let mut after = Value::Null;
    for _ in 0..100 {
        after = json(app.get(path).await, 200).await;
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
    let etag = app.get(path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(etag.ends_with("-1\""), "{etag}");
    // The admin token's use writes nothing: a bootstrap credential shows no lastUsed.
    let admin = json(app.get("/api-keys/admin").await, 200).await;
    assert!(admin.get("lastUsed").is_none(), "{admin}");
    let _ = ADMIN_TOKEN;
}

/// `tests/fixtures/store-format-3` was written by the release before store format 4: provider
/// `fmt3` with a key. Opened by this one, both are there as they were, the key still reaches
/// the upstream, and no stored API key exists yet.
#[actix_web::test]
async fn a_format_3_data_dir_opens_with_its_records_and_no_stored_api_keys() {
    let dir = tempfile::tempdir().unwrap();
    crate::fixture::store_format_3(dir.path());
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let providers = json(app.get("/providers").await, 200).await;
    let list = providers["aiGatewayProviders"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{providers}");
    assert_valid("AIGatewayProvider", &list[0]);
    assert_eq!(list[0]["providerId"], "fmt3");
    let keys = json(app.get("/provider-keys").await, 200).await;
    let key = &keys["aiGatewayProviderKeys"][0];
    assert_valid("AIGatewayProviderAPIKeyDetail", key);
    assert_eq!(key["providerId"], "fmt3");
    assert_eq!(key["name"], "fmt3 key");
    let api_keys = json(app.get("/api-keys").await, 200).await;
    assert_eq!(ids(&api_keys), ["ci", "admin"]);

    let mock = Mock::start().await;
    let res = app
        .patch_json(
            &format!("/providers/{}", list[0]["id"].as_str().unwrap()),
            &json!({"baseUrl": format!("{}/v1", mock.base)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res =
        crate::helpers::data_plane::call(&app, "/v1/chat/completions", chat("fmt3:tiny")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        mock.last().headers["authorization"],
        format!("Bearer {}", crate::fixture::FORMAT_3_KEY)
    );
    // A key made now is kept across a restart in the migrated store.
    let (_, token, _) = create(&app, json!({"name": "after upgrade"})).await;
    app.stop().await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("format-version"))
            .unwrap()
            .trim(),
        "5"
    );
    let app = spawn_app_in(dir.path(), |_| {}).await;
    assert_eq!(get_as(&app, &token, "/providers").await.status(), 200);
    app.stop().await;
    mock.stop().await;
}

/// The answers match the served OpenAPI document's schemas too, strictly (no field it does not
/// name): schemathesis holds the server to them.
#[actix_web::test]
async fn answers_conform_to_the_documented_schemas() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let (created, _, _) = create(&app, json!({"name": "doc", "metadata": "m"})).await;
    let path = created["uri"].as_str().unwrap();
    let got = json(app.get(path).await, 200).await;
    let admin = json(app.get("/api-keys/admin").await, 200).await;
    for key in [&created, &got, &admin] {
        crate::json_schema::assert_conforms(&doc, &schema("AIGatewayAPIKey"), key, true);
    }
    let list = json(app.get("/api-keys").await, 200).await;
    crate::json_schema::assert_conforms(&doc, &schema("AIGatewayAPIKeyList"), &list, true);
    for name in ["CreateApiKey", "UpdateApiKey"] {
        let body = &doc["components"]["schemas"][name];
        assert_eq!(body["additionalProperties"], false, "{name}");
        let fields: Vec<&String> = body["properties"].as_object().unwrap().keys().collect();
        assert_eq!(fields, ["description", "metadata", "name"], "{name}");
    }
    let patch = &doc["paths"]["/api-keys/{id}"]["patch"]["responses"];
    for status in ["200", "404", "412", "405"] {
        assert!(patch.get(status).is_some(), "PATCH documents no {status}");
    }
    assert!(doc["paths"]["/api-keys"]["post"]["responses"]["201"].is_object());
    assert!(doc["paths"]["/api-keys/{id}"]["delete"]["responses"]["204"].is_object());
}
