//! `/provider-keys`: CRUD, rotation, paging and filter, redaction, and the value never coming
//! back in any answer.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, assert_violations, provider, spawn_app};
use crate::schema::assert_valid;

const SECRET: &str = "sk-live-51Habcdefghijklmnop0123456789";

fn key(provider_id: &str, name: &str, value: &str) -> Value {
    json!({"providerId": provider_id, "name": name, "value": value})
}

/// Asserts a key answer: status, schema, and that no form of the secret is in it.
async fn key_body(res: Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    assert!(
        !text.contains(SECRET) && !text.contains("\"value\""),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_valid("AIGatewayProviderAPIKeyDetail", &body);
    body
}

async fn create_key(app: &TestApp, body: &Value) -> Value {
    key_body(app.post_json("/provider-keys", body).await, 201).await
}

#[actix_web::test]
async fn creating_a_key_answers_201_with_a_redacted_value_and_nothing_more() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/provider-keys",
            &json!({"providerId": "openai", "name": "prod", "value": SECRET,
                    "description": "billing account 7", "metadata": "{\"env\":\"prod\"}"}),
        )
        .await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(res.headers().contains_key("etag"));
    let body = key_body(res, 201).await;
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("/provider-keys/{id}"));
    assert_eq!(body["uri"], location);
    assert_eq!(body["providerId"], "openai");
    assert_eq!(body["name"], "prod");
    assert_eq!(body["keyRedacted"], "sk-l…6789");
    assert_eq!(body["description"], "billing account 7");
    assert_eq!(body["metadata"], "{\"env\":\"prod\"}");
    assert!(body["lastUsed"].is_null() && body.as_object().unwrap().contains_key("lastUsed"));
    assert_eq!(body["createdBy"]["id"], "admin");

    let fetched = key_body(app.get(&location).await, 200).await;
    assert_eq!(fetched, body);
    let list: Value = app.get("/provider-keys").await.json().await.unwrap();
    assert_valid("AIGatewayProviderAPIKeyList", &list);
    assert!(!list.to_string().contains(SECRET));
}

#[actix_web::test]
async fn short_values_show_nothing_and_env_references_show_as_written() {
    let app = spawn_app().await;
    for (name, short) in [("short", "abcdefgh"), ("eleven", "12345678901")] {
        let k = create_key(&app, &key("anthropic", name, short)).await;
        assert_eq!(k["keyRedacted"], "********", "{short}");
    }
    let env = create_key(&app, &key("openai", "from env", "env.OPENAI_API_KEY")).await;
    assert_eq!(env["keyRedacted"], "env.OPENAI_API_KEY");
    // A third at most: two characters at each end of twelve.
    let twelve = create_key(&app, &key("openai", "twelve", "123456789012")).await;
    assert_eq!(twelve["keyRedacted"], "12…12");
}

#[actix_web::test]
async fn a_key_needs_a_registered_provider_or_a_catalog_id() {
    let app = spawn_app().await;
    let body = assert_error(
        app.post_json("/provider-keys", &key("my-vllm", "k", SECRET))
            .await,
        409,
        "unknown_provider",
    )
    .await;
    assert!(body["msg"].as_str().unwrap().contains("my-vllm"));
    assert_eq!(
        body["details"]["providerId"],
        "is not a registered provider"
    );
    app.create(&provider("my-vllm")).await;
    create_key(&app, &key("my-vllm", "k", SECRET)).await;
    create_key(&app, &key("xai", "k", SECRET)).await;
}

#[actix_web::test]
async fn key_fields_are_validated_together_without_echoing_the_value() {
    let app = spawn_app().await;
    let details = assert_violations(
        app.post_json(
            "/provider-keys",
            &json!({"providerId": "Bad Id", "name": "n".repeat(256), "value": "",
                    "description": "d".repeat(256), "metadata": "m".repeat(4097)}),
        )
        .await,
        &["providerId", "name", "value", "description", "metadata"],
    )
    .await;
    assert!(details["value"].is_string());
    assert_violations(
        app.post_json("/provider-keys", &json!({})).await,
        &["providerId", "name", "value"],
    )
    .await;
    for bad in ["env.", "env.1ABC", "env.A-B", " padded ", "line\nbreak"] {
        let res = app
            .post_json("/provider-keys", &key("openai", "k", bad))
            .await;
        let body = assert_error(res, 400, "validation_failed").await;
        assert!(body["details"]["value"].is_string());
        if bad.len() > 4 {
            assert!(!body.to_string().contains(bad.trim()), "{body}");
        }
    }
    let res = app
        .post_json(
            "/provider-keys",
            &json!({"providerId": "openai", "name": "k", "value": 31337133}),
        )
        .await;
    let body = assert_error(res, 400, "validation_failed").await;
    assert!(!body.to_string().contains("31337133"), "{body}");
    create_key(
        &app,
        &json!({"providerId": "openai", "name": "n".repeat(255), "value": SECRET,
        "description": "d".repeat(255), "metadata": "m".repeat(4096)}),
    )
    .await;
    let res = app
        .post_json(
            "/provider-keys",
            &json!({"providerId": "openai", "name": "k", "value": SECRET, "keyRedacted": "x"}),
        )
        .await;
    let body = assert_error(res, 400, "unknown_field").await;
    assert!(!body.to_string().contains(SECRET));
}

#[actix_web::test]
async fn patch_changes_name_description_and_metadata_only() {
    let app = spawn_app().await;
    let created = create_key(
        &app,
        &json!({"providerId": "openai", "name": "a", "value": SECRET, "description": "d", "metadata": "m"}),
    )
    .await;
    let path = format!("/provider-keys/{}", created["id"].as_str().unwrap());
    let body = key_body(
        app.patch_json(&path, &json!({"name": "b", "description": null}))
            .await,
        200,
    )
    .await;
    assert_eq!(body["name"], "b");
    assert!(body.get("description").is_none());
    assert_eq!(body["metadata"], "m");
    assert_eq!(body["keyRedacted"], created["keyRedacted"]);
    let body = key_body(app.patch_json(&path, &json!({"metadata": null})).await, 200).await;
    assert!(body.get("metadata").is_none());
    assert_violations(
        app.patch_json(&path, &json!({"name": null})).await,
        &["name"],
    )
    .await;
    // The value changes only through rotate; providerId never.
    for field in ["value", "providerId", "keyRedacted"] {
        let res = app.patch_json(&path, &json!({ field: "x" })).await;
        assert_error(res, 400, "unknown_field").await;
    }
    let unchanged = key_body(app.patch_json(&path, &json!({})).await, 200).await;
    assert_eq!(unchanged["updatedAt"], body["updatedAt"]);
}

#[actix_web::test]
async fn rotate_replaces_the_value_under_the_same_id() {
    let app = spawn_app().await;
    let created = create_key(&app, &key("openai", "old", SECRET)).await;
    let path = format!("/provider-keys/{}", created["id"].as_str().unwrap());
    let etag = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let rotated = key_body(
        app.post_json(
            &format!("{path}/rotate"),
            &json!({"name": "new", "value": "sk-next-ZYXWVUTSRQ"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rotated["id"], created["id"]);
    assert_eq!(rotated["name"], "new");
    assert_eq!(rotated["keyRedacted"], "sk-…SRQ");
    // The old ETag no longer matches.
    let res = app
        .req(Method::POST, &format!("{path}/rotate"))
        .header("if-match", etag)
        .json(&json!({"name": "x", "value": SECRET}))
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;
    assert_violations(
        app.post_json(&format!("{path}/rotate"), &json!({"value": SECRET}))
            .await,
        &["name"],
    )
    .await;
    let missing = format!("/provider-keys/{}/rotate", ulid::Ulid::new());
    assert_error(
        app.post_json(&missing, &json!({"name": "x", "value": SECRET}))
            .await,
        404,
        "not_found",
    )
    .await;
    let res = app
        .req(Method::GET, &format!("{path}/rotate"))
        .send()
        .await
        .unwrap();
    assert_error(res, 405, "method_not_allowed").await;
}

#[actix_web::test]
async fn keys_page_newest_first_and_filter_by_provider_across_pages() {
    let app = spawn_app().await;
    app.create(&provider("local")).await;
    let mut openai = Vec::new();
    for i in 0..5 {
        openai.push(create_key(&app, &key("openai", &format!("o{i}"), SECRET)).await["id"].clone());
        create_key(&app, &key("local", &format!("l{i}"), SECRET)).await;
    }
    openai.reverse();
    let mut seen = Vec::new();
    let mut next = Some("/provider-keys?provider=openai&limit=2".to_owned());
    while let Some(uri) = next {
        let page: Value = app.get(&uri).await.json().await.unwrap();
        assert_valid("AIGatewayProviderAPIKeyList", &page);
        for k in page["aiGatewayProviderKeys"].as_array().unwrap() {
            assert_eq!(k["providerId"], "openai");
            seen.push(k["id"].clone());
        }
        next = page["nextPageUri"].as_str().map(str::to_owned);
        if let Some(n) = &next {
            assert!(n.contains("provider=openai"), "{n}");
        }
    }
    assert_eq!(seen, openai);
    let all: Value = app
        .get("/provider-keys?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["aiGatewayProviderKeys"].as_array().unwrap().len(), 10);
    let none: Value = app
        .get("/provider-keys?provider=nobody")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["aiGatewayProviderKeys"], json!([]));
    assert_error(
        app.get("/provider-keys?limit=0").await,
        400,
        "invalid_query",
    )
    .await;
}

#[actix_web::test]
async fn deleting_a_key_answers_204_then_404() {
    let app = spawn_app().await;
    let created = create_key(&app, &key("openai", "k", SECRET)).await;
    let path = format!("/provider-keys/{}", created["id"].as_str().unwrap());
    assert_eq!(app.delete(&path).await.status(), 204);
    assert_error(app.get(&path).await, 404, "not_found").await;
    assert_error(app.delete(&path).await, 404, "not_found").await;
}

#[actix_web::test]
async fn a_provider_with_keys_is_kept_unless_deleted_with_cascade() {
    let app = spawn_app().await;
    let p = app.create(&provider("with-keys")).await;
    let path = format!("/providers/{}", p["id"].as_str().unwrap());
    let k1 = create_key(&app, &key("with-keys", "a", SECRET)).await;
    let k2 = create_key(&app, &key("with-keys", "b", SECRET)).await;
    let other = create_key(&app, &key("openai", "c", SECRET)).await;

    let body = assert_error(app.delete(&path).await, 409, "provider_has_keys").await;
    assert!(body["msg"].as_str().unwrap().contains('2'), "{body}");
    assert_eq!(body["details"]["providerKeys"], "2");
    assert_eq!(app.get(&path).await.status(), 200);

    // Deleting one key lowers the count the 409 reports.
    app.delete(&format!("/provider-keys/{}", k1["id"].as_str().unwrap()))
        .await;
    let body = assert_error(app.delete(&path).await, 409, "provider_has_keys").await;
    assert_eq!(body["details"]["providerKeys"], "1");

    assert_error(
        app.delete(&format!("{path}?cascade=maybe")).await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(
        app.delete(&format!("{path}?cascade=true")).await.status(),
        204
    );
    assert_error(app.get(&path).await, 404, "not_found").await;
    assert_error(
        app.get(&format!("/provider-keys/{}", k2["id"].as_str().unwrap()))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.get(&format!("/provider-keys/{}", other["id"].as_str().unwrap()))
            .await
            .status(),
        200
    );
    // The providerId is free, and starts with no keys.
    let again = app.create(&provider("with-keys")).await;
    assert_eq!(
        app.delete(&format!("/providers/{}", again["id"].as_str().unwrap()))
            .await
            .status(),
        204
    );
}

#[actix_web::test]
async fn key_routes_need_a_token() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/provider-keys"))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthorized").await;
    let res = app
        .client
        .post(app.url("/provider-keys"))
        .json(&key("openai", "k", SECRET))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthorized").await;
}
