//! What reaches whom on the data plane: a base URL's query never in an error, IPv6 forms of a
//! refused address refused like it, model names of bounded length, 405s with `Allow`, and
//! bodies of bounded depth.

use serde_json::json;

use crate::helpers::data_plane::{chat, closed_port, openai_error, registered};
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};
use crate::upstream::Mock;

async fn send(app: &TestApp, path: &str, body: impl Into<Vec<u8>>) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.into())
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_base_urls_query_is_not_in_the_error_of_an_unreachable_provider() {
    let app = spawn_app().await;
    let port = closed_port();
    let base = format!("http://127.0.0.1:{port}/v1?key=sk-query-secret-0001");
    app.create(&registered("gone", &base, &["m"], json!(null)))
        .await;
    let res = send(&app, "/v1/chat/completions", chat("gone:m").to_string()).await;
    let error = openai_error(res, 502, "upstream_unreachable").await;
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("provider `gone` could not be reached: "));
    assert!(!message.contains("sk-query-secret"), "{message}");
    assert!(!error.to_string().contains("key="), "{error}");
}

/// `[::127.0.0.1]` (IPv4-compatible) and the IPv4-mapped form are loopback, refused as
/// 127.0.0.1 is, before any connection.
#[actix_web::test]
async fn ipv6_forms_of_a_loopback_address_are_refused_like_it() {
    let app = spawn_app_with(|s| s.outbound.allow_private_networks = false).await;
    let mock = Mock::start().await;
    let port = mock.base.rsplit(':').next().unwrap().to_owned();
    for (slug, host) in [
        ("compatible", "[::127.0.0.1]"),
        ("mapped", "[::ffff:127.0.0.1]"),
    ] {
        let base = format!("http://{host}:{port}/v1");
        app.create(&registered(slug, &base, &["m"], json!(null)))
            .await;
        let res = send(
            &app,
            "/v1/chat/completions",
            chat(&format!("{slug}:m")).to_string(),
        )
        .await;
        let error = openai_error(res, 403, "outbound_refused").await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("carries 127.0.0.1"), "{message}");
        assert!(
            message.contains("outbound.allow_private_networks"),
            "{message}"
        );
    }
    assert!(mock.seen().is_empty(), "no connection was made");
}

#[actix_web::test]
async fn a_model_name_longer_than_512_bytes_is_refused_and_never_reflected() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    // A provider that declares no model takes any name, and answers it in x-modelgate-model.
    app.create(&registered(
        "open",
        &format!("{}/v1", mock.base),
        &[],
        json!(null),
    ))
    .await;
    let name = |len: usize| format!("open:{}", "m".repeat(len - "open:".len()));
    let res = send(&app, "/v1/chat/completions", chat(&name(512)).to_string()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-modelgate-model"].len(),
        512 - "open:".len()
    );
    for len in [513, 2 << 20] {
        let res = send(&app, "/v1/chat/completions", chat(&name(len)).to_string()).await;
        assert!(!res.headers().contains_key("x-modelgate-model"));
        let error = openai_error(res, 400, "invalid_model").await;
        assert_eq!(error["param"], "model");
        assert!(
            error["message"].as_str().unwrap().contains("512 bytes"),
            "{error}"
        );
    }
    let body = json!({"model": "open:m", "models": ["open:n", name(513)]}).to_string();
    let res = send(&app, "/v1/chat/completions", body).await;
    let error = openai_error(res, 400, "invalid_models").await;
    assert_eq!(error["param"], "models");
    assert_eq!(mock.seen().len(), 1, "only the 512-byte name went upstream");
}

#[actix_web::test]
async fn data_plane_405s_say_which_method_the_route_takes() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (reqwest::Method::GET, "/v1/chat/completions", "POST"),
        (reqwest::Method::PUT, "/v1/embeddings", "POST"),
        (reqwest::Method::GET, "/v1/messages", "POST"),
        (reqwest::Method::POST, "/v1/models", "GET"),
        (reqwest::Method::DELETE, "/v1/models", "GET"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
    }
}

#[actix_web::test]
async fn a_body_nested_deeper_than_128_levels_is_refused_and_not_forwarded() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "p",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    // The top-level object is one level; `messages` holds the rest.
    let nested = |levels: usize| {
        let inner = format!("{}{}", "[".repeat(levels - 1), "]".repeat(levels - 1));
        format!(r#"{{"model":"p:m","messages":{inner}}}"#)
    };
    let res = send(&app, "/v1/chat/completions", nested(128)).await;
    assert_eq!(res.status(), 200);
    for levels in [129, 100_000] {
        let res = send(&app, "/v1/chat/completions", nested(levels)).await;
        let error = openai_error(res, 400, "invalid_json").await;
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("deeper than 128 levels"),
            "{error}"
        );
    }
    assert_eq!(mock.seen().len(), 1);
}
