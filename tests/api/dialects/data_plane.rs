//! Bifrost's provider settings as model calls meet them: `send_back_raw_request` and
//! `send_back_raw_response` attach the upstream's request and answer under `extra_fields`
//! (never a credential), and `allowed_requests` with a `*_stream` flag off refuses streamed
//! calls in the caller's format, the router moving on to a provider that allows them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::data_plane::{add_key, anthropic_error, call, chat, openai_error, registered};
use crate::helpers::spawn_app;
use crate::upstream::{Mock, Reply};

const KEY: &str = "sk-bifrost-raw-secret-0123456789";
const HEADER_SECRET: &str = "hdr-secret-987654321abc";

/// A custom OpenAI-format provider written through Bifrost's API, with `extra` over its body.
async fn bifrost(app: &TestApp, name: &str, base_url: &str, extra: Value) {
    let mut body = json!({
        "provider": name,
        "network_config": {"base_url": base_url},
        "custom_provider_config": {"base_provider_type": "openai"}
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let res = app
        .req(Method::POST, "/api/providers")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// Bifrost's PUT of `name`, which keeps what it leaves out.
async fn bifrost_put(app: &TestApp, name: &str, body: Value) {
    let res = app
        .req(Method::PUT, &format!("/api/providers/{name}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

fn answered(mock: &Mock) {
    mock.then(Reply::Json {
        status: 200,
        headers: vec![],
        // An upstream that echoes the key it was called with.
        body: json!({"id": "up-1", "object": "chat.completion", "model": "m",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                  "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                     "echo": format!("called with {KEY}")}),
    });
}

async fn text_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    for secret in [KEY, HEADER_SECRET] {
        assert!(!text.contains(secret), "a credential in the answer: {text}");
    }
    (status, text)
}

#[actix_web::test]
async fn raw_request_and_response_ride_back_under_extra_fields_without_a_credential() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    let extra = json!({"send_back_raw_request": true, "send_back_raw_response": true,
        "network_config": {"base_url": base, "extra_headers": {"api-key": HEADER_SECRET}}});
    bifrost(&app, "raw", &base, extra).await;
    add_key(&app, "raw", KEY).await;
    answered(&mock);
    let (status, text) = text_of(call(&app, "/v1/chat/completions", chat("raw:m")).await).await;
    assert_eq!(status, 200, "{text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got["id"], "up-1", "the answer itself is the upstream's");
    let extra = &got["extra_fields"];
    let sent = mock.last();
    assert_eq!(extra["raw_request"], sent.body, "the body sent upstream");
    assert_eq!(extra["raw_request"]["model"], "m");
    assert_eq!(extra["raw_response"]["id"], "up-1");
    assert_eq!(extra["raw_response"]["echo"], "called with ********");
    // The credentials went upstream, in headers never attached.
    assert_eq!(sent.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(sent.headers["api-key"], HEADER_SECRET);

    // A translated call carries the provider's own bodies: OpenAI's, under an Anthropic answer.
    answered(&mock);
    let messages = json!({"model": "raw:m", "max_tokens": 16,
                          "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = text_of(call(&app, "/v1/messages", messages).await).await;
    assert_eq!(status, 200, "{text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got["type"], "message", "{got}");
    assert_eq!(got["extra_fields"]["raw_request"], mock.last().body);
    assert!(got["extra_fields"]["raw_request"]["messages"].is_array());
    assert_eq!(
        got["extra_fields"]["raw_response"]["object"],
        "chat.completion"
    );
    mock.stop().await;
}

#[actix_web::test]
async fn each_flag_attaches_only_its_own_and_none_attaches_nothing() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    bifrost(&app, "req", &base, json!({"send_back_raw_request": true})).await;
    bifrost(&app, "resp", &base, json!({"send_back_raw_response": true})).await;
    bifrost(&app, "plain", &base, json!({})).await;
    for provider in ["req", "resp", "plain"] {
        add_key(&app, provider, KEY).await;
    }
    for (provider, request, response) in [("req", true, false), ("resp", false, true)] {
        answered(&mock);
        let (_, text) =
            text_of(call(&app, "/v1/chat/completions", chat(&format!("{provider}:m"))).await).await;
        let extra = &serde_json::from_str::<Value>(&text).unwrap()["extra_fields"];
        assert_eq!(
            extra.get("raw_request").is_some(),
            request,
            "{provider}: {extra}"
        );
        assert_eq!(
            extra.get("raw_response").is_some(),
            response,
            "{provider}: {extra}"
        );
    }
    answered(&mock);
    let (_, text) = text_of(call(&app, "/v1/chat/completions", chat("plain:m")).await).await;
    let got: Value = serde_json::from_str(&text).unwrap();
    assert!(got.get("extra_fields").is_none(), "{got}");
    // Turned off by Bifrost's PUT: the next call sees it.
    bifrost_put(&app, "req", json!({"send_back_raw_request": false})).await;
    answered(&mock);
    let (_, text) = text_of(call(&app, "/v1/chat/completions", chat("req:m")).await).await;
    assert!(
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .get("extra_fields")
            .is_none()
    );
    mock.stop().await;
}

#[actix_web::test]
async fn a_stream_turned_off_is_refused_in_the_caller_s_format() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let allowed = json!({"custom_provider_config": {"base_provider_type": "openai",
        "allowed_requests": {"chat_completion": true, "chat_completion_stream": false}}});
    bifrost(&app, "nostream", &format!("{}/v1", mock.base), allowed).await;
    let mut streamed = chat("nostream:m");
    streamed["stream"] = json!(true);
    let res = call(&app, "/v1/chat/completions", streamed).await;
    let error = openai_error(res, 400, "stream_not_allowed").await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("nostream") && message.contains("chat-completions"),
        "{message}"
    );
    assert_eq!(error["param"], "stream");
    // An Anthropic caller, translated to the provider's chat completions: its own shape.
    let messages = json!({"model": "nostream:m", "max_tokens": 16, "stream": true,
                          "messages": [{"role": "user", "content": "hi"}]});
    let res = call(&app, "/v1/messages", messages).await;
    let error = anthropic_error(res, 400, "invalid_request_error").await;
    assert!(
        error["message"].as_str().unwrap().contains("streamed"),
        "{error}"
    );
    assert!(mock.seen().is_empty(), "refused before any attempt");
    // Its plain calls pass.
    let res = call(&app, "/v1/chat/completions", chat("nostream:m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(mock.seen().len(), 1);
    mock.stop().await;
}

#[actix_web::test]
async fn a_refused_stream_goes_to_the_next_provider_that_serves_the_model() {
    let app = spawn_app().await;
    let (first, second) = (Mock::start().await, Mock::start().await);
    let surfaces = json!([{"format": "openai", "surface": "chat-completions"}]);
    for (slug, mock) in [("first", &first), ("second", &second)] {
        let base = format!("{}/v1", mock.base);
        app.create(&registered(slug, &base, &["shared"], surfaces.clone()))
            .await;
    }
    bifrost_put(
        &app,
        "first",
        json!({"custom_provider_config": {"base_provider_type": "openai",
        "allowed_requests": {"chat_completion": true, "chat_completion_stream": false}}}),
    )
    .await;
    let mut streamed = chat("shared");
    streamed["stream"] = json!(true);
    let res = call(&app, "/v1/chat/completions", streamed).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-modelgate-provider"], "second");
    assert!(
        first.seen().is_empty(),
        "the provider refusing streams is not called"
    );
    assert_eq!(second.seen().len(), 1);
    // A plain call still goes to the first, as creation order has it.
    let res = call(&app, "/v1/chat/completions", chat("shared")).await;
    assert_eq!(res.headers()["x-modelgate-provider"], "first");
    assert_eq!(first.seen().len(), 1);
    first.stop().await;
    second.stop().await;
}

#[actix_web::test]
async fn the_settings_hold_across_a_restart_and_an_ngrok_api_write() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    let app = crate::helpers::spawn_app_in(dir.path(), |_| {}).await;
    let settings = json!({"send_back_raw_response": true,
        "custom_provider_config": {"base_provider_type": "openai",
        "allowed_requests": {"chat_completion": true, "chat_completion_stream": false}}});
    bifrost(&app, "kept", &base, settings).await;
    app.stop().await;
    // Read from the store at start, not only from the write that set them.
    let app = crate::helpers::spawn_app_in(dir.path(), |_| {}).await;
    let ngrok: Value = app.get("/providers").await.json().await.unwrap();
    let id = ngrok["aiGatewayProviders"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .patch_json(&format!("/providers/{id}"), &json!({"metadata": "moved"}))
        .await;
    assert_eq!(res.status(), 200);
    answered(&mock);
    let res = call(&app, "/v1/chat/completions", chat("kept:m")).await;
    let got: Value = res.json().await.unwrap();
    assert_eq!(got["extra_fields"]["raw_response"]["id"], "up-1", "{got}");
    let mut streamed = chat("kept:m");
    streamed["stream"] = json!(true);
    let res = call(&app, "/v1/chat/completions", streamed).await;
    openai_error(res, 400, "stream_not_allowed").await;
    mock.stop().await;
}

#[actix_web::test]
async fn stored_bodies_are_kept_on_the_usage_event_bounded_and_shown_when_asked() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    bifrost(
        &app,
        "kept",
        &base,
        json!({"store_raw_request_response": true}),
    )
    .await;
    bifrost(&app, "unkept", &base, json!({})).await;
    add_key(&app, "kept", KEY).await;
    answered(&mock);
    let res = call(&app, "/v1/chat/completions", chat("kept:m")).await;
    let (_, text) = text_of(res).await;
    assert!(
        !text.contains("extra_fields"),
        "kept, not sent back: {text}"
    );
    // An answer past the bound is cut, and says how long it was.
    let long = "y".repeat(70 << 10);
    mock.then(Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"id": "long", "object": "chat.completion", "choices": [], "pad": long}),
    });
    call(&app, "/v1/chat/completions", chat("kept:m"))
        .await
        .bytes()
        .await
        .unwrap();
    answered(&mock);
    call(&app, "/v1/chat/completions", chat("unkept:m"))
        .await
        .bytes()
        .await
        .unwrap();

    let listed = crate::usage::events(&app, "include=raw", 3).await;
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains(KEY), "no credential on an event: {text}");
    let (unkept, long_one, first) = (&listed[0], &listed[1], &listed[2]);
    assert!(unkept.get("rawRequest").is_none() && unkept.get("rawResponse").is_none());
    let request: Value = serde_json::from_str(first["rawRequest"].as_str().unwrap()).unwrap();
    assert_eq!(request, mock.seen()[0].body, "the body sent upstream");
    let response: Value = serde_json::from_str(first["rawResponse"].as_str().unwrap()).unwrap();
    assert_eq!(response["id"], "up-1");
    assert_eq!(response["echo"], "called with ********");
    let cut = long_one["rawResponse"].as_str().unwrap();
    assert!(
        cut.len() < (65 << 10) && cut.contains("…[truncated: "),
        "{}",
        &cut[cut.len() - 60..]
    );
    // Without `include=raw` the events show none of it.
    let plain = crate::usage::events(&app, "includeRetries=true", 3).await;
    assert!(
        plain.iter().all(|e| e.get("rawRequest").is_none()),
        "{plain:?}"
    );
    mock.stop().await;
}

#[actix_web::test]
async fn a_gzip_answer_rides_back_decoded_and_masked() {
    use std::io::Write;
    let app = spawn_app().await;
    let json = serde_json::to_vec(&json!({"id": "up-gz", "object": "chat.completion",
        "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
        "finish_reason": "stop"}], "echo": format!("called with {KEY}")}))
    .unwrap();
    let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    packed.write_all(&json).unwrap();
    let packed = packed.finish().unwrap();
    let head = format!(
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\n\
         content-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        packed.len()
    );
    let base = crate::raw::scripted(vec![[head.as_bytes(), &packed].concat()]).await;
    let base = format!("{base}/v1");
    let extra = json!({"send_back_raw_response": true});
    bifrost(&app, "packed", &base, extra).await;
    add_key(&app, "packed", KEY).await;
    let (status, text) = text_of(call(&app, "/v1/chat/completions", chat("packed:m")).await).await;
    assert_eq!(status, 200, "{text}");
    let got: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got["id"], "up-gz");
    assert_eq!(
        got["extra_fields"]["raw_response"]["id"], "up-gz",
        "decoded, not gzip bytes"
    );
    assert_eq!(
        got["extra_fields"]["raw_response"]["echo"],
        "called with ********"
    );
}
