//! The data plane against a mock upstream: routing, rewriting, credentials, errors in each
//! format's shape, pass-through, streaming, cancellation, and changes seen by the next call.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};
use crate::upstream::{Mock, Reply};

pub(crate) fn registered(slug: &str, base_url: &str, models: &[&str], surfaces: Value) -> Value {
    json!({
        "providerId": slug, "name": slug, "baseUrl": base_url,
        "models": models.iter().map(|m| json!({"modelId": m})).collect::<Vec<_>>(),
        "supportedApiSurfaces": surfaces,
    })
}

/// A chat completion for `model`, as a client sends it.
pub(crate) fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// An upstream error answer; its body carries a field the client must never see.
pub(crate) fn failing(status: u16, headers: Vec<(&'static str, &'static str)>) -> Reply {
    Reply::Json {
        status,
        headers,
        body: json!({"error": {"message": format!("upstream says {status}"), "secret": "upstream-body"}}),
    }
}

pub(crate) fn header<'r>(res: &'r reqwest::Response, name: &str) -> &'r str {
    res.headers()[name].to_str().unwrap()
}

/// One chunk of a streamed chat completion that carries content.
pub(crate) const CONTENT_CHUNK: &[u8] =
    b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";

pub(crate) async fn call(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn add_key(app: &TestApp, provider: &str, value: &str) -> Value {
    let res = app
        .post_json(
            "/provider-keys",
            &json!({"providerId": provider, "name": "k", "value": value}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Asserts an OpenAI-shaped error and answers its `error` object.
pub(crate) async fn openai_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status);
    assert!(res.headers().contains_key("x-modelgate-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(body["error"]["type"].is_string(), "{body}");
    body["error"].clone()
}

pub(crate) async fn anthropic_error(res: reqwest::Response, status: u16, kind: &str) -> Value {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    body["error"].clone()
}

#[actix_web::test]
async fn a_qualified_model_reaches_its_provider_rewritten_and_without_the_callers_credential() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "ollama-box",
        &format!("{}?tenant=7", mock.base),
        &["llama3.1:8b"],
        json!(null),
    ))
    .await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions?debug=1"))
        .bearer_auth(ADMIN_TOKEN)
        .header("cookie", "session=secret-cookie")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "hop")
        .json(&json!({"model": "ollama-box:llama3.1:8b", "messages": [{"role": "user", "content": "hi"}],
                      "temperature": 0.30000000000000004, "models": ["other"], "custom": {"kept": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-modelgate-provider"], "ollama-box");
    assert_eq!(res.headers()["x-modelgate-model"], "llama3.1:8b");
    assert_eq!(res.headers()["x-modelgate-request-id"].len(), 26);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["model"], "llama3.1:8b");
    let seen = mock.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        seen.query, "tenant=7",
        "the base URL's query is kept, the caller's is not"
    );
    assert_eq!(seen.body["model"], "llama3.1:8b");
    assert!(seen.body.get("models").is_none());
    assert_eq!(seen.body["custom"], json!({"kept": true}));
    assert_eq!(seen.body["temperature"], json!(0.30000000000000004));
    for forbidden in ["authorization", "x-api-key", "cookie", "x-secret"] {
        assert!(
            !seen.headers.contains_key(forbidden),
            "{forbidden} reached the upstream: {:?}",
            seen.headers
        );
    }
    assert!(!format!("{:?}", seen.headers).contains(ADMIN_TOKEN));
    assert!(seen.headers["user-agent"].starts_with("modelgate/"));
    mock.stop().await;
}

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
async fn a_bare_name_goes_to_the_oldest_provider_that_declares_it() {
    let app = spawn_app().await;
    let (first, second) = (Mock::start().await, Mock::start().await);
    app.create(&registered(
        "first",
        &first.base,
        &["shared-model"],
        json!(null),
    ))
    .await;
    app.create(&registered(
        "second",
        &second.base,
        &["shared-model", "only-second"],
        json!(null),
    ))
    .await;
    assert_eq!(
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": "shared-model"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(first.seen().len(), 1);
    assert_eq!(
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": "ONLY-SECOND"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        second.last().body["model"],
        "only-second",
        "the declared spelling goes upstream"
    );
    first.stop().await;
    second.stop().await;
}

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

/// A streamed call to provider `streamer` whose upstream has sent one event and holds the rest:
/// the feed for more events, the signal that the upstream's reader left, and the client's body
/// with that first event read (checked to be the whole of it, with the stream's headers).
async fn first_event_of_a_stream(
    app: &TestApp,
    mock: &Mock,
) -> (
    tokio::sync::mpsc::UnboundedSender<Bytes>,
    tokio::sync::oneshot::Receiver<()>,
    impl futures_util::Stream<Item = reqwest::Result<Bytes>> + use<>,
) {
    let (events, gone) = mock.then_stream();
    events
        .send(Bytes::from_static(b"data: {\"n\":1}\n\n"))
        .unwrap();
    let res = call(
        app,
        "/v1/chat/completions",
        json!({"model": "streamer:m", "stream": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["x-modelgate-model"], "m");
    assert!(res.headers().get("content-encoding").is_none());
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"data: {\"n\":1}\n\n");
    (events, gone, body)
}

#[actix_web::test]
async fn a_stream_reaches_the_client_event_by_event_and_stops_upstream_when_the_client_leaves() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("streamer", &mock.base, &[], json!(null)))
        .await;

    // The first event arrives while the upstream still holds the rest.
    let (events, gone, mut body) = first_event_of_a_stream(&app, &mock).await;
    events
        .send(Bytes::from_static(b"data: {\"n\":2}\n\ndata: [DONE]\n\n"))
        .unwrap();
    drop(events);
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, b"data: {\"n\":2}\n\ndata: [DONE]\n\n");
    gone.await.unwrap();

    // A client that leaves mid-stream: the upstream request is dropped by the next event.
    let (events, gone, body) = first_event_of_a_stream(&app, &mock).await;
    drop(body);
    let mut gone = gone;
    let mut sent = 0;
    let dropped = loop {
        // Each further event lets the upstream side notice the closed connection; bounded so a
        // broken build fails instead of hanging.
        if events
            .send(Bytes::from_static(b"data: {\"more\":true}\n\n"))
            .is_err()
        {
            break true;
        }
        sent += 1;
        match tokio::time::timeout(Duration::from_millis(200), &mut gone).await {
            Ok(_) => break true,
            Err(_) if sent < 50 => continue,
            Err(_) => break false,
        }
    };
    assert!(
        dropped,
        "the upstream stream was still being read after the client left"
    );
    mock.stop().await;
}

#[actix_web::test]
async fn a_change_acknowledged_by_the_management_api_is_what_the_next_call_uses() {
    let app = spawn_app().await;
    let (a, b) = (Mock::start().await, Mock::start().await);
    let created = app
        .create(&registered("moving", &a.base, &["m1"], json!(null)))
        .await;
    let path = format!("/providers/{}", created["id"].as_str().unwrap());
    assert_eq!(
        call(&app, "/v1/chat/completions", json!({"model": "moving:m1"}))
            .await
            .status(),
        200
    );
    let res = app
        .patch_json(
            &path,
            &json!({"baseUrl": b.base, "models": [{"modelId": "m2"}]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    openai_error(
        call(&app, "/v1/chat/completions", json!({"model": "moving:m1"})).await,
        404,
        "model_not_found",
    )
    .await;
    assert_eq!(
        call(&app, "/v1/chat/completions", json!({"model": "m2"}))
            .await
            .status(),
        200
    );
    assert_eq!((a.seen().len(), b.seen().len()), (1, 1));
    let key = add_key(&app, "moving", "sk-added-after-0000").await;
    call(&app, "/v1/chat/completions", json!({"model": "m2"})).await;
    assert_eq!(
        b.last().headers["authorization"],
        "Bearer sk-added-after-0000"
    );
    assert_eq!(
        app.delete(&format!("{path}?cascade=true")).await.status(),
        204
    );
    openai_error(
        call(&app, "/v1/chat/completions", json!({"model": "m2"})).await,
        404,
        "model_not_found",
    )
    .await;
    // The key went with its provider; the key's use was recorded before.
    assert_eq!(
        app.get(&format!("/provider-keys/{}", key["id"].as_str().unwrap()))
            .await
            .status(),
        404
    );
    a.stop().await;
    b.stop().await;
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

#[actix_web::test]
async fn models_are_listed_in_the_openai_or_the_anthropic_shape() {
    let app = spawn_app().await;
    app.create(&registered(
        "alpha",
        "http://127.0.0.1:9/v1",
        &["a1", "a2"],
        json!(null),
    ))
    .await;
    app.create(&registered(
        "beta",
        "http://127.0.0.1:9/v1",
        &["b1"],
        json!(null),
    ))
    .await;
    let res = app.req(Method::GET, "/v1/models").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha:a1", "alpha:a2", "beta:b1"]);
    assert_eq!(list["data"][2]["owned_by"], "beta");
    assert_eq!(list["data"][0]["object"], "model");
    let res = app
        .client
        .get(app.url("/v1/models"))
        .header("x-api-key", ADMIN_TOKEN)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], "alpha:a1");
    assert_eq!(list["last_id"], "beta:b1");
    assert_eq!(list["data"][0]["type"], "model");
    assert!(humantime::parse_rfc3339(list["data"][0]["created_at"].as_str().unwrap()).is_ok());
    let res = app.client.get(app.url("/v1/models")).send().await.unwrap();
    openai_error(res, 401, "missing_credential").await;
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
