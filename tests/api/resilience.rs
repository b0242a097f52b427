//! A provider's own settings on the data plane, each against the mock upstream: its timeout,
//! retries, extra headers, keyless calls, path overrides, queue, trusted CA, proxy, and the
//! outbound guard.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::helpers::data_plane::{
    CONTENT_CHUNK, add_key, anthropic_error, call, chat, failing, header, openai_error, registered,
};
use crate::helpers::{TestApp, merged, spawn_app, spawn_app_with};
use crate::upstream::{ConnectProxy, Mock, Reply, Tls};

async fn tuned(app: &TestApp, slug: &str, mock: &Mock, settings: Value) -> Value {
    app.create(&merged(
        registered(slug, &format!("{}/v1", mock.base), &["m"], json!(null)),
        settings,
    ))
    .await
}

#[actix_web::test]
async fn the_same_key_is_retried_as_many_times_as_max_retries_then_the_next_provider() {
    let app = spawn_app().await;
    let (first, second) = (Mock::start().await, Mock::start().await);
    let retrying = json!({"network": {"maxRetries": 2, "retryBackoffInitialMs": 1,
                                      "retryBackoffMaxMs": 2}});
    tuned(&app, "first", &first, retrying).await;
    tuned(&app, "second", &second, json!({})).await;
    add_key(&app, "first", "sk-first-key-000001").await;

    // Two failures, then an answer: the same key each time, no fallback.
    first.then(failing(503, vec![]));
    first.then(failing(500, vec![]));
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-modelgate-provider"), "first");
    assert_eq!(
        (
            header(&res, "x-modelgate-attempts"),
            header(&res, "x-modelgate-fallbacks")
        ),
        ("3", "0")
    );
    let keys: Vec<String> = first
        .seen()
        .iter()
        .map(|s| s.headers["authorization"].clone())
        .collect();
    assert_eq!(keys, vec!["Bearer sk-first-key-000001"; 3]);

    // Three failures use up the retries; the next provider answers.
    for _ in 0..3 {
        first.then(failing(502, vec![]));
    }
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(header(&res, "x-modelgate-provider"), "second");
    assert_eq!(
        (
            header(&res, "x-modelgate-attempts"),
            header(&res, "x-modelgate-fallbacks")
        ),
        ("4", "1")
    );
    assert_eq!(first.seen().len(), 6);

    // A refused request is not retried.
    first.then(failing(400, vec![]));
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 400);
    assert_eq!(first.seen().len(), 7);
}

#[actix_web::test]
async fn a_provider_timeout_moves_the_call_on_long_before_the_gateways() {
    let app = spawn_app().await;
    let (slow, fast) = (Mock::start().await, Mock::start().await);
    tuned(
        &app,
        "slow",
        &slow,
        json!({"network": {"requestTimeoutSeconds": 1}}),
    )
    .await;
    tuned(&app, "fast", &fast, json!({})).await;
    slow.then(Reply::Hang);
    // The gateway's own attempt timeout is 300 s: only the provider's lets this answer.
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-modelgate-provider"), "fast");
}

#[actix_web::test]
async fn extra_headers_go_upstream_and_keyless_calls_carry_no_key() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    tuned(
        &app,
        "local",
        &mock,
        json!({"keyless": true,
               "network": {"extraHeaders": {"X-Tenant": "homelab", "anthropic-version": "2024-01-01"}}}),
    )
    .await;
    add_key(&app, "local", "sk-unused-key-000001").await;
    let res = call(&app, "/v1/chat/completions", chat("local:m")).await;
    assert_eq!(res.status(), 200);
    let seen = mock.last();
    assert_eq!(seen.headers["x-tenant"], "homelab");
    assert!(!seen.headers.contains_key("authorization"), "{seen:?}");

    // Without keyless, the key goes (the same provider, changed).
    let id =
        app.get("/providers").await.json::<Value>().await.unwrap()["aiGatewayProviders"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let res = app
        .patch_json(&format!("/providers/{id}"), &json!({"keyless": null}))
        .await;
    assert_eq!(res.status(), 200);
    call(&app, "/v1/chat/completions", chat("local:m")).await;
    assert_eq!(
        mock.last().headers["authorization"],
        "Bearer sk-unused-key-000001"
    );
}

#[actix_web::test]
async fn a_path_override_replaces_the_surfaces_path_at_the_base_urls_host() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&json!({
        "providerId": "odd", "name": "odd", "baseUrl": format!("{}/v1?api-version=7", mock.base),
        "models": [{"modelId": "m"}],
        "requestPathOverrides": {"chat-completions": "/api/chat"}
    }))
    .await;
    call(&app, "/v1/chat/completions", chat("odd:m")).await;
    let seen = mock.last();
    assert_eq!(
        (seen.path.as_str(), seen.query.as_str()),
        ("/api/chat", "api-version=7")
    );
    // Other surfaces keep theirs.
    call(
        &app,
        "/v1/embeddings",
        json!({"model": "odd:m", "input": "x"}),
    )
    .await;
    assert_eq!(mock.last().path, "/v1/embeddings");
}

#[actix_web::test]
async fn a_full_queue_refuses_at_once_with_429_and_a_waiting_call_goes_when_a_slot_frees() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    tuned(
        &app,
        "small",
        &mock,
        json!({"concurrency": 1, "bufferSize": 2}),
    )
    .await;
    // The first call holds the only slot for as long as its stream is open.
    let (chunks, _gone) = mock.then_stream();
    chunks.send(Bytes::from_static(CONTENT_CHUNK)).unwrap();
    let mut streaming = json!({"stream": true});
    streaming["model"] = json!("small:m");
    streaming["messages"] = json!([]);
    let first = call(&app, "/v1/chat/completions", streaming).await;
    assert_eq!(first.status(), 200);
    // Of two more, one waits in the queue and the other finds it full: that one is answered
    // while the first stream is still open — at once, not after a timeout.
    let second = call(&app, "/v1/chat/completions", chat("small:m"));
    let third = call(&app, "/v1/chat/completions", chat("small:m"));
    futures_util::pin_mut!(second, third);
    let (refused, waiting) = match futures_util::future::select(second, third).await {
        futures_util::future::Either::Left((res, other)) => (res, other),
        futures_util::future::Either::Right((res, other)) => (res, other),
    };
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(header(&refused, "x-modelgate-attempts"), "1");
    let error = openai_error(refused, 429, "provider_busy").await;
    assert_eq!(error["type"], "rate_limit_error");
    assert_eq!(mock.seen().len(), 1);
    chunks
        .send(Bytes::from_static(b"data: [DONE]\n\n"))
        .unwrap();
    drop(chunks);
    let body = first.bytes().await.unwrap();
    assert!(body.ends_with(b"data: [DONE]\n\n"));
    let res = waiting.await;
    assert_eq!(res.status(), 200);
    assert_eq!(mock.seen().len(), 2);
}

#[actix_web::test]
async fn a_busy_provider_hands_the_call_to_another_that_serves_the_model() {
    let app = spawn_app().await;
    let (busy, other) = (Mock::start().await, Mock::start().await);
    tuned(&app, "busy", &busy, json!({"concurrency": 1})).await;
    tuned(&app, "other", &other, json!({})).await;
    let (chunks, _gone) = busy.then_stream();
    chunks.send(Bytes::from_static(CONTENT_CHUNK)).unwrap();
    let held = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "busy:m", "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(held.status(), 200);
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-modelgate-provider"), "other");
    assert_eq!(header(&res, "x-modelgate-attempts"), "2");
    drop(chunks);
}

#[actix_web::test]
async fn a_provider_with_its_own_ca_is_trusted_and_one_without_is_not() {
    let app = spawn_app().await;
    let tls = Tls::new();
    let mock = Mock::start_tls(&tls).await;
    let base = format!("{}/v1", mock.base);
    app.create(
        &json!({"providerId": "trusting", "name": "t", "baseUrl": base,
                       "network": {"caCertPem": tls.ca_pem}}),
    )
    .await;
    app.create(&json!({"providerId": "plain", "name": "p", "baseUrl": base}))
        .await;
    app.create(
        &json!({"providerId": "careless", "name": "c", "baseUrl": base,
                       "network": {"insecureSkipVerify": true}}),
    )
    .await;
    let res = call(&app, "/v1/chat/completions", chat("trusting:m")).await;
    assert_eq!(res.status(), 200);
    let res = call(&app, "/v1/chat/completions", chat("plain:m")).await;
    let error = openai_error(res, 502, "upstream_unreachable").await;
    assert!(
        error["message"].as_str().unwrap().contains("certificate"),
        "{error}"
    );
    let res = call(&app, "/v1/chat/completions", chat("careless:m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(mock.seen().len(), 2);
}

#[actix_web::test]
async fn calls_go_through_the_providers_proxy_with_its_credentials() {
    let app = spawn_app().await;
    let tls = Tls::new();
    let mock = Mock::start_tls(&tls).await;
    let proxy = ConnectProxy::start().await;
    app.create(&json!({
        "providerId": "proxied", "name": "p", "baseUrl": format!("{}/v1", mock.base),
        "network": {"caCertPem": tls.ca_pem},
        "proxy": {"type": "http", "url": proxy.url, "username": "gw", "password": "tunnel-pw"}
    }))
    .await;
    let res = call(&app, "/v1/chat/completions", chat("proxied:m")).await;
    assert_eq!(res.status(), 200);
    let tunnels = proxy.tunnels.lock().unwrap().clone();
    let port = mock.base.rsplit(':').next().unwrap();
    assert_eq!(tunnels.len(), 1, "{tunnels:?}");
    assert_eq!(tunnels[0].0, format!("localhost:{port}"));
    // Basic gw:tunnel-pw
    assert_eq!(tunnels[0].1.as_deref(), Some("Basic Z3c6dHVubmVsLXB3"));
    assert_eq!(mock.seen().len(), 1);
}

#[actix_web::test]
async fn private_addresses_are_refused_when_the_gateway_says_so_and_a_provider_may_be_let_in() {
    let app = spawn_app_with(|s| s.outbound.allow_private_networks = false).await;
    let mock = Mock::start().await;
    let port = mock.base.rsplit(':').next().unwrap().to_owned();
    // By address (no resolver sees it) and by name (the resolver's check).
    let both = json!([{"format": "openai"}, {"format": "anthropic"}]);
    app.create(&registered(
        "literal",
        &format!("http://127.0.0.1:{port}/v1"),
        &["m"],
        both,
    ))
    .await;
    app.create(&registered(
        "named",
        &format!("http://localhost:{port}/v1"),
        &["m"],
        json!(null),
    ))
    .await;
    app.create(&merged(
        registered(
            "allowed",
            &format!("http://127.0.0.1:{port}/v1"),
            &["m"],
            json!(null),
        ),
        json!({"allowPrivateNetwork": true}),
    ))
    .await;
    for model in ["literal:m", "named:m"] {
        let res = call(&app, "/v1/chat/completions", chat(model)).await;
        let error = openai_error(res, 403, "outbound_refused").await;
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("outbound.allow_private_networks"),
            "{error}"
        );
    }
    let res = call(
        &app,
        "/v1/messages",
        json!({"model": "literal:m", "max_tokens": 5, "messages": []}),
    )
    .await;
    anthropic_error(res, 403, "permission_error").await;
    assert!(mock.seen().is_empty(), "no connection was made");
    let res = call(&app, "/v1/chat/completions", chat("allowed:m")).await;
    assert_eq!(res.status(), 200);
    // A bare model falls over from the refused providers to the one let in.
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-modelgate-provider"), "allowed");
}

#[actix_web::test]
async fn a_provider_may_refuse_private_addresses_the_gateway_allows() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    tuned(&app, "strict", &mock, json!({"allowPrivateNetwork": false})).await;
    tuned(&app, "open", &mock, json!({})).await;
    let res = call(&app, "/v1/chat/completions", chat("strict:m")).await;
    openai_error(res, 403, "outbound_refused").await;
    assert!(mock.seen().is_empty(), "no connection was made");
    let res = call(&app, "/v1/chat/completions", chat("open:m")).await;
    assert_eq!(res.status(), 200);
}

#[actix_web::test]
async fn a_stream_quiet_past_the_providers_idle_timeout_ends_with_an_error_event() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    tuned(
        &app,
        "quiet",
        &mock,
        json!({"network": {"streamIdleTimeoutSeconds": 1}}),
    )
    .await;
    let (chunks, _gone) = mock.then_stream();
    chunks.send(Bytes::from_static(CONTENT_CHUNK)).unwrap();
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "quiet:m", "stream": true, "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    // The gateway's idle timeout is 60 s; the provider's 1 s ends the stream.
    let body = String::from_utf8(res.bytes().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("stream_idle_timeout"), "{body}");
    assert!(!body.contains("[DONE]"), "{body}");
    drop(chunks);
}
