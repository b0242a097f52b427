//! Malformed requests: each gets its JSON error, never a 500 or a hang.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_error, assert_violations, provider, spawn_app};

#[actix_web::test]
async fn malformed_json_is_invalid_json_with_line_and_column() {
    let app = spawn_app().await;
    let res = app
        .req(Method::POST, "/providers")
        .header("content-type", "application/json")
        .body("{\n  \"providerId\": \"x\",\n  \"name\": oops\n}")
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 400, "invalid_json").await;
    assert_eq!(body["details"]["line"], "3");
    assert_eq!(body["details"]["column"], "11");
    for bad in ["", "{", "{\"a\":1,}", "{} {}", "\u{feff}{}"] {
        let res = app
            .req(Method::POST, "/providers")
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_error(res, 400, "invalid_json").await;
    }
}

#[actix_web::test]
async fn a_wrong_type_is_a_validation_error_at_that_field() {
    let app = spawn_app().await;
    let mut p = provider("typed");
    p["name"] = json!(42);
    let details = assert_violations(app.post_json("/providers", &p).await, &["name"]).await;
    assert!(
        details["name"].as_str().unwrap().contains("string"),
        "{details}"
    );
    p["name"] = json!("ok");
    p["models"] = json!([{"modelId": "a"}, {"modelId": ["b"]}]);
    assert_violations(
        app.post_json("/providers", &p).await,
        &["models[1].modelId"],
    )
    .await;
    p["models"] = json!({"modelId": "a"});
    assert_violations(app.post_json("/providers", &p).await, &["models"]).await;
}

#[actix_web::test]
async fn a_body_that_is_not_an_object_is_refused_even_when_its_values_line_up() {
    let app = spawn_app().await;
    for body in [
        json!(["positional", "Name", "http://x.example"]),
        json!("text"),
        json!(7),
        json!(null),
    ] {
        assert_violations(app.post_json("/providers", &body).await, &["body"]).await;
    }
    let mut p = provider("nested");
    p["models"] = json!([["m1"]]);
    assert_violations(app.post_json("/providers", &p).await, &["models[0]"]).await;
}

#[actix_web::test]
async fn unknown_fields_are_all_named_with_their_paths() {
    let app = spawn_app().await;
    let mut p = provider("extra");
    p["id"] = json!("01ARZ3NDEKTSV4RRFFQ69G5FAV");
    p["apiKey"] = json!("sk-should-not-be-here");
    p["models"] = json!([{"modelId": "m", "alias": "x"}]);
    let body = assert_error(app.post_json("/providers", &p).await, 400, "unknown_field").await;
    let mut fields: Vec<_> = body["details"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    fields.sort();
    assert_eq!(fields, ["apiKey", "id", "models[0].alias"]);
    assert!(!body.to_string().contains("sk-should-not-be-here"));
    let list: serde_json::Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(
        list["aiGatewayProviders"],
        json!([]),
        "nothing half-created"
    );

    let created = app.create(&provider("patch-extra")).await;
    let path = format!("/providers/{}", created["id"].as_str().unwrap());
    assert_error(
        app.patch_json(&path, &json!({"createdAt": "x"})).await,
        400,
        "unknown_field",
    )
    .await;
}

#[actix_web::test]
async fn a_body_that_is_not_declared_json_is_a_415() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&provider("ct")).unwrap();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = app.req(Method::POST, "/providers").body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        assert_error(req.send().await.unwrap(), 415, "unsupported_media_type").await;
    }
    for ok in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let mut p = provider("ct");
        p["providerId"] = json!(format!("ct-{}", ok.len()));
        let res = app
            .req(Method::POST, "/providers")
            .header("content-type", ok)
            .body(serde_json::to_vec(&p).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{ok}");
    }
}

#[actix_web::test]
async fn a_body_over_the_limit_is_a_413_whether_declared_or_streamed() {
    let app = spawn_app_small_limit().await;
    let mut p = provider("big");
    p["metadata"] = json!("m".repeat(8 * 1024));
    let body = assert_error(
        app.post_json("/providers", &p).await,
        413,
        "payload_too_large",
    )
    .await;
    assert_eq!(body["details"]["limit"], "4096");
    // Chunked, with no Content-Length to check up front.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(serde_json::to_vec(&p).unwrap())];
    let res = app
        .req(Method::POST, "/providers")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_error(res, 413, "payload_too_large").await;
}

async fn spawn_app_small_limit() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(|s| s.server.max_body_bytes = 4096).await
}

#[actix_web::test]
async fn the_default_limit_is_one_mebibyte() {
    let app = spawn_app().await;
    let mut p = provider("mib");
    p["metadata"] = json!("m".repeat(1024 * 1024));
    assert_error(
        app.post_json("/providers", &p).await,
        413,
        "payload_too_large",
    )
    .await;
}

#[actix_web::test]
async fn unknown_routes_are_json_404s_and_wrong_methods_are_405s_with_allow() {
    let app = spawn_app().await;
    assert_error(app.get("/nope").await, 404, "not_found").await;
    assert_error(app.get("/assets/nope.js").await, 404, "not_found").await;
    for (method, path, allow) in [
        (Method::PUT, "/providers", "GET, HEAD, POST"),
        (Method::DELETE, "/providers", "GET, HEAD, POST"),
        (
            Method::POST,
            "/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "GET, HEAD, PATCH, DELETE",
        ),
        (
            Method::PUT,
            "/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "GET, HEAD, PATCH, DELETE",
        ),
        (Method::POST, "/healthz", "GET, HEAD"),
    ] {
        let res = app.req(method, path).send().await.unwrap();
        assert_eq!(res.headers()["allow"], allow);
        assert_error(res, 405, "method_not_allowed").await;
    }
}

#[actix_web::test]
async fn deeply_nested_json_is_refused_cleanly() {
    let app = spawn_app().await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let body = format!(
        "{{\"providerId\":\"deep\",\"name\":\"n\",\"baseUrl\":\"http://x\",\"models\":{deep}}}"
    );
    let res = app
        .req(Method::POST, "/providers")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    // The reader stops at 128 levels, whatever the field.
    let body = assert_error(res, 400, "invalid_json").await;
    assert!(
        body["msg"].as_str().unwrap().contains("128 levels"),
        "{body}"
    );
    let res = app
        .req(Method::PATCH, "/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .header("content-type", "application/json")
        .body(format!("{{\"metadata\":{deep}}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.get("/providers").await.status(), 200);
}

#[actix_web::test]
async fn deep_nesting_where_any_value_is_allowed_is_refused_too() {
    let app = spawn_app().await;
    // An unknown field's value is read to be reported, and metadata-like free values are the
    // place a parser would recurse without a shape to stop it.
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let res = app
        .req(Method::POST, "/providers")
        .header("content-type", "application/json")
        .body(format!("{{\"whatever\":{deep}}}"))
        .send()
        .await
        .unwrap();
    // The whole body is read before anything is checked; the reader stops at 128 levels.
    let body = assert_error(res, 400, "invalid_json").await;
    assert!(
        body["msg"].as_str().unwrap().contains("128 levels"),
        "{body}"
    );
    let res = app
        .req(Method::POST, "/providers")
        .header("content-type", "application/json")
        .body(format!(
            "{{\"providerId\":\"p\",\"name\":\"n\",\"baseUrl\":\"http://x\",\"metadata\":{deep}}}"
        ))
        .send()
        .await
        .unwrap();
    assert_error(res, 400, "invalid_json").await;
    assert_eq!(app.get("/providers").await.status(), 200);
}

#[actix_web::test]
async fn a_body_full_of_errors_gets_a_bounded_answer() {
    let app = spawn_app().await;
    let models = vec![r#"{"modelId":""}"#; 60_000].join(",");
    let body = format!(
        "{{\"providerId\":\"many\",\"name\":\"n\",\"baseUrl\":\"http://x\",\"models\":[{models}]}}"
    );
    assert!(body.len() < 1024 * 1024);
    let res = app
        .req(Method::POST, "/providers")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 400, "validation_failed").await;
    let details = body["details"].as_object().unwrap();
    assert_eq!(details.len(), 101, "100 paths and the count of the rest");
    assert_eq!(
        details["models"],
        "must have at most 1000 entries (got 60000)"
    );
    assert!(
        details["…"]
            .as_str()
            .unwrap()
            .ends_with("more violations not listed")
    );
    assert!(serde_json::to_vec(&body).unwrap().len() < 16 * 1024);
}
