//! `/api-keys`: the bootstrap credentials (the admin token, each `[[auth.tokens]]` entry) in
//! ngrok's `AIGatewayAPIKey` shape, read-only, never showing a token or its digest; and every
//! `createdBy.uri` a record names answers. Stored keys: `stored`.

mod stored;

use std::time::{Duration, SystemTime};

use modelgate::auth::hash_token;
use modelgate::config::TokenEntry;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{
    ADMIN_TOKEN, CI_ID, CI_TOKEN, assert_error, provider, spawn_app, spawn_app_with,
};
use crate::schema::assert_valid;

pub(crate) async fn json(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

fn secrets() -> [String; 4] {
    [
        ADMIN_TOKEN.to_owned(),
        hash_token(ADMIN_TOKEN),
        CI_TOKEN.to_owned(),
        hash_token(CI_TOKEN),
    ]
}

#[actix_web::test]
async fn each_bootstrap_credential_answers_in_ngroks_shape_with_nothing_of_its_token() {
    let before = SystemTime::now() - Duration::from_secs(1);
    let app = spawn_app().await;
    let after = SystemTime::now() + Duration::from_secs(1);
    for id in ["admin", CI_ID] {
        let res = app.get(&format!("/api-keys/{id}")).await;
        let text = res.text().await.unwrap();
        for secret in secrets() {
            assert!(!text.contains(&secret), "{id} shows a secret: {text}");
        }
        let key: Value = serde_json::from_str(&text).unwrap();
        assert_valid("AIGatewayAPIKey", &key);
        assert_eq!(key["id"], id);
        assert_eq!(key["uri"], format!("/api-keys/{id}"));
        assert_eq!(key["keyRedacted"], "********");
        let me = serde_json::json!({"id": id, "uri": format!("/api-keys/{id}")});
        assert_eq!(key["createdBy"], me);
        assert_eq!(key["lastUpdatedBy"], me);
        let created = humantime::parse_rfc3339(key["createdAt"].as_str().unwrap()).unwrap();
        assert!(before <= created && created <= after, "{key}");
        assert_eq!(key["updatedAt"], key["createdAt"]);
        assert!(key.get("token").is_none() && key.get("lastUsed").is_none());
    }
    // A token reads itself and the others alike.
    let res = app
        .client
        .get(app.url("/api-keys/admin"))
        .bearer_auth(CI_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(json(res, 200).await["id"], "admin");
}

#[actix_web::test]
async fn the_created_by_of_a_record_names_a_credential_that_answers() {
    let app = spawn_app().await;
    let made = app
        .client
        .post(app.url("/providers"))
        .bearer_auth(CI_TOKEN)
        .json(&provider("made-by-ci"))
        .send()
        .await
        .unwrap();
    let made = json(made, 201).await;
    let uri = made["createdBy"]["uri"].as_str().unwrap();
    assert_eq!(uri, format!("/api-keys/{CI_ID}"));
    let key = json(app.get(uri).await, 200).await;
    assert_eq!(key["id"], made["createdBy"]["id"]);
    let admin = app.create(&provider("made-by-admin")).await;
    let key = json(
        app.get(admin["lastUpdatedBy"]["uri"].as_str().unwrap())
            .await,
        200,
    )
    .await;
    assert_eq!(key["id"], "admin");
}

#[actix_web::test]
async fn the_list_pages_by_id_descending_and_follows_next_page_uri_to_its_end() {
    let app = spawn_app_with(|s| {
        for id in ["zeta", "b.2", "b_1", "A-9"] {
            s.auth.tokens.push(TokenEntry {
                id: id.into(),
                sha256: hash_token(&format!("{id}-token-0123456789abcdef")),
            });
        }
    })
    .await;
    let all = json(app.get("/api-keys").await, 200).await;
    assert_valid("AIGatewayAPIKeyList", &all);
    assert_eq!(all["uri"], "/api-keys");
    assert_eq!(all["nextPageUri"], Value::Null);
    let ids: Vec<&str> = all["aiGatewayApiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["zeta", "ci", "b_1", "b.2", "admin", "A-9"]);
    for secret in secrets() {
        assert!(!all.to_string().contains(&secret));
    }

    let mut paged = Vec::new();
    let mut next = Some("/api-keys?limit=4".to_owned());
    while let Some(uri) = next {
        let page = json(app.get(&uri).await, 200).await;
        assert_valid("AIGatewayAPIKeyList", &page);
        let items = page["aiGatewayApiKeys"].as_array().unwrap();
        assert!(!items.is_empty() && items.len() <= 4, "{page}");
        paged.extend(items.iter().map(|k| k["id"].as_str().unwrap().to_owned()));
        next = page["nextPageUri"].as_str().map(str::to_owned);
    }
    assert_eq!(paged, ids);
    let after_b = json(app.get("/api-keys?beforeId=b_1&limit=2").await, 200).await;
    let ids: Vec<&str> = after_b["aiGatewayApiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b.2", "admin"]);
    // A cursor need not be a key's id, as any ULID is one elsewhere.
    let after = json(app.get("/api-keys?beforeId=b").await, 200).await;
    assert_eq!(after["aiGatewayApiKeys"][0]["id"], "admin");
}

#[actix_web::test]
async fn bad_paging_parameters_are_refused_each_by_name() {
    let app = spawn_app().await;
    let body = assert_error(
        app.get("/api-keys?limit=0&beforeId=no%20spaces").await,
        400,
        "invalid_query",
    )
    .await;
    assert!(
        body["details"]["limit"]
            .as_str()
            .unwrap()
            .contains("1 to 100")
    );
    assert!(
        body["details"]["beforeId"]
            .as_str()
            .unwrap()
            .contains("API key id")
    );
    let body = assert_error(app.get("/api-keys?provider=x").await, 400, "invalid_query").await;
    assert!(body["details"]["provider"].is_string(), "{body}");
    assert_error(app.get("/api-keys/admin?x=1").await, 400, "invalid_query").await;
}

#[actix_web::test]
async fn head_answers_like_get_without_a_body_and_an_unknown_id_is_a_404() {
    let app = spawn_app().await;
    for (path, status) in [
        ("/api-keys", 200),
        ("/api-keys/admin", 200),
        ("/api-keys/nobody", 404),
    ] {
        let res = app.req(Method::HEAD, path).send().await.unwrap();
        assert_eq!(res.status(), status, "HEAD {path}");
        assert!(res.bytes().await.unwrap().is_empty());
    }
    let body = assert_error(app.get("/api-keys/nobody").await, 404, "not_found").await;
    assert!(body["msg"].as_str().unwrap().contains("nobody"), "{body}");
    assert_error(app.get("/api-keys/admin/more").await, 404, "not_found").await;
}

#[actix_web::test]
async fn writes_to_a_bootstrap_credential_are_refused_saying_where_it_is_changed() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::PATCH, "/api-keys/admin"),
        (Method::DELETE, "/api-keys/admin"),
        (Method::DELETE, "/api-keys/ci"),
        (Method::PATCH, "/api-keys/ci"),
        (Method::POST, "/api-keys/ci"),
        (Method::PUT, "/api-keys/admin"),
    ] {
        let res = app
            .req(method.clone(), path)
            .json(&serde_json::json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["allow"], "GET, HEAD", "{method} {path}");
        let body = assert_error(res, 405, "method_not_allowed").await;
        let msg = body["msg"].as_str().unwrap();
        for said in ["config file", "[[auth.tokens]]", "MODELGATE_ADMIN_TOKEN"] {
            assert!(msg.contains(said), "{method} {path}: {msg}");
        }
    }
    let res = app.req(Method::PUT, "/api-keys").send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET, HEAD, POST");
    assert_error(res, 405, "method_not_allowed").await;
    // Nothing changed: the admin token still reads and still works, and ci still answers.
    let admin = json(app.get("/api-keys/admin").await, 200).await;
    assert_eq!(admin["name"], "admin");
    assert_eq!(json(app.get("/api-keys/ci").await, 200).await["id"], "ci");
}

#[actix_web::test]
async fn the_routes_need_a_token_and_answers_use_the_public_url() {
    let app = spawn_app_with(|s| s.server.public_url = Some("https://gw.example".into())).await;
    for path in ["/api-keys", "/api-keys/admin"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_error(res, 401, "unauthorized").await;
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth("not-a-token-of-this-gateway")
            .send()
            .await
            .unwrap();
        assert_error(res, 401, "unauthorized").await;
    }
    let key = json(app.get("/api-keys/admin").await, 200).await;
    assert_eq!(key["uri"], "https://gw.example/api-keys/admin");
    assert_eq!(key["createdBy"]["uri"], "https://gw.example/api-keys/admin");
    let list = json(app.get("/api-keys?limit=1").await, 200).await;
    assert_eq!(list["uri"], "https://gw.example/api-keys");
    assert_eq!(
        list["nextPageUri"],
        "https://gw.example/api-keys?beforeId=ci&limit=1"
    );
}
