use reqwest::Method;
use serde_json::Value;

use crate::helpers::{CI_ID, CI_TOKEN, assert_error, provider, spawn_app};

#[actix_web::test]
async fn a_request_without_a_token_is_a_401_with_www_authenticate() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/providers"),
        (Method::POST, "/providers"),
        (Method::GET, "/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (Method::PATCH, "/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        (Method::DELETE, "/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        // Unknown sub-paths and methods are not revealed to anonymous clients either.
        (Method::PUT, "/providers"),
        (Method::GET, "/providers/x/y"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer realm=\"modelgate\""
        );
        assert_error(res, 401, "unauthorized").await;
    }
}

#[actix_web::test]
async fn a_wrong_token_is_a_401_and_never_echoed() {
    let app = spawn_app().await;
    for header in [
        "Bearer wrong-token-wrong-token",
        "Bearer test-admin-token-012345678", // one character short of the real one
        "Basic dGVzdDp0ZXN0",
        "Bearer",
        "test-admin-token-0123456789",
    ] {
        let res = app
            .client
            .get(app.url("/providers"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        let text = format!("{:?}", res.headers());
        let body = assert_error(res, 401, "unauthorized").await;
        assert!(!body.to_string().contains("wrong-token"), "{body}");
        assert!(!text.contains("wrong-token"));
    }
}

#[actix_web::test]
async fn the_right_token_is_let_in_and_recorded_as_the_creator() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/providers"))
        .bearer_auth(CI_TOKEN)
        .json(&provider("by-ci"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["createdBy"]["id"], CI_ID);
    let res = app
        .client
        .get(app.url("/providers"))
        .header("authorization", format!("bearer {CI_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn health_needs_no_token() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
