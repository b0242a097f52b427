//! What the client is answered when a call does not simply succeed: errors in the shape of the
//! route's format, upstream answers passed through, an unreachable or silent upstream, and the
//! data plane's own body limit.

use serde_json::{Value, json};

use crate::helpers::data_plane::{anthropic_error, call, openai_error, registered};
use crate::helpers::{ADMIN_TOKEN, spawn_app, spawn_app_with};
use crate::upstream::{Mock, Reply};

#[actix_web::test]
async fn errors_come_in_the_shape_of_the_routes_format() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "chat-only",
        &mock.base,
        &["m"],
        json!([{"format": "openai", "surface": "chat-completions"}]),
    ))
    .await;
    let chat = "/v1/chat/completions";
    openai_error(
        call(&app, chat, json!({"model": "nobody:m"})).await,
        404,
        "model_not_found",
    )
    .await;
    openai_error(
        call(&app, chat, json!({"model": "chat-only:other"})).await,
        404,
        "model_not_found",
    )
    .await;
    openai_error(
        call(&app, chat, json!({"messages": []})).await,
        400,
        "missing_model",
    )
    .await;
    openai_error(
        call(&app, chat, json!({"model": 3})).await,
        400,
        "invalid_model",
    )
    .await;
    let many: Vec<String> = (0..17).map(|i| format!("m{i}")).collect();
    openai_error(
        call(&app, chat, json!({"model": "m", "models": many})).await,
        400,
        "invalid_models",
    )
    .await;
    openai_error(
        call(&app, "/v1/embeddings", json!({"model": "chat-only:m"})).await,
        400,
        "surface_not_supported",
    )
    .await;
    let err = anthropic_error(
        call(&app, "/v1/messages", json!({"model": "chat-only:m"})).await,
        400,
        "invalid_request_error",
    )
    .await;
    assert!(
        err["message"].as_str().unwrap().contains("messages"),
        "{err}"
    );
    anthropic_error(
        call(&app, "/v1/messages", json!({"model": "nobody:m"})).await,
        404,
        "not_found_error",
    )
    .await;
    // Credentials: missing or wrong, in each shape, with the usual challenge.
    let res = app
        .client
        .post(app.url(chat))
        .json(&json!({"model": "m"}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("www-authenticate"));
    openai_error(res, 401, "missing_credential").await;
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", "wrong-token-0123456789")
        .json(&json!({"model": "m"}))
        .send()
        .await
        .unwrap();
    anthropic_error(res, 401, "authentication_error").await;
    let res = app
        .client
        .post(app.url(chat))
        .body("{not json")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    openai_error(res, 400, "invalid_json").await;
    assert!(mock.seen().is_empty(), "nothing reached the upstream");
    mock.stop().await;
}

#[actix_web::test]
async fn upstream_answers_pass_through_with_their_status_body_and_rate_limit_headers() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("busy", &mock.base, &[], json!(null)))
        .await;
    mock.then(Reply::Json {
        status: 429,
        headers: vec![
            ("retry-after", "7"),
            ("x-ratelimit-remaining-requests", "0"),
            ("set-cookie", "a=b"),
        ],
        body: json!({"error": {"message": "slow down", "type": "rate_limit_error"}}),
    });
    let res = call(&app, "/v1/chat/completions", json!({"model": "busy:m"})).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "7");
    assert_eq!(res.headers()["x-ratelimit-remaining-requests"], "0");
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(res.headers()["x-modelgate-provider"], "busy");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "slow down");
    mock.then(Reply::Json {
        status: 503,
        headers: vec![],
        body: json!({"error": "down"}),
    });
    assert_eq!(
        call(&app, "/v1/chat/completions", json!({"model": "busy:m"}))
            .await
            .status(),
        503
    );
    mock.stop().await;
}

#[actix_web::test]
async fn an_unreachable_upstream_is_a_502_and_a_silent_one_a_504() {
    let app = spawn_app_with(|s| s.gateway.request_timeout_secs = 1).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    app.create(&registered(
        "gone",
        &format!("http://127.0.0.1:{port}"),
        &[],
        json!(null),
    ))
    .await;
    let err = openai_error(
        call(&app, "/v1/chat/completions", json!({"model": "gone:m"})).await,
        502,
        "upstream_unreachable",
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("`gone`"));
    let mock = Mock::start().await;
    app.create(&registered("silent", &mock.base, &[], json!(null)))
        .await;
    mock.then(Reply::Hang);
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"model": "silent:m"}))
        .send()
        .await
        .unwrap();
    // A provider that declares no surfaces speaks OpenAI's: the messages route is refused.
    anthropic_error(res, 400, "invalid_request_error").await;
    openai_error(
        call(&app, "/v1/chat/completions", json!({"model": "silent:m"})).await,
        504,
        "upstream_timeout",
    )
    .await;
    mock.stop().await;
}

#[actix_web::test]
async fn the_data_plane_has_its_own_body_limit() {
    let app = spawn_app_with(|s| s.gateway.max_body_bytes = 4096).await;
    let mock = Mock::start().await;
    app.create(&registered("limited", &mock.base, &[], json!(null)))
        .await;
    let big = json!({"model": "limited:m", "input": "x".repeat(5000)});
    let err = openai_error(
        call(&app, "/v1/embeddings", big).await,
        413,
        "request_too_large",
    )
    .await;
    assert!(err["message"].as_str().unwrap().contains("4096"));
    assert!(mock.seen().is_empty());
    // And the default is far above the management API's 1 MiB.
    let app = spawn_app().await;
    app.create(&registered("roomy", &mock.base, &[], json!(null)))
        .await;
    let big = json!({"model": "roomy:m", "input": "x".repeat(3 << 20)});
    assert_eq!(call(&app, "/v1/embeddings", big).await.status(), 200);
    assert_eq!(mock.last().body["input"].as_str().unwrap().len(), 3 << 20);
    mock.stop().await;
}
