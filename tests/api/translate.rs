//! Calls translated between the formats (issue 24): an Anthropic-format call served by an
//! OpenAI-only provider and an OpenAI-format call by an Anthropic-only one, each checked at
//! the mock (what it was sent) and at the client (what it was answered); tools and their
//! results, an upstream's error, a field refused and the same dropped when lenient, a native
//! candidate before a translated one, and streams translated event by event; `usage`: the
//! usage events of translated calls.

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::data_plane::{add_key, anthropic_error, call, openai_error, registered};
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};
use crate::upstream::{Mock, Reply};

mod usage;

fn openai_only() -> Value {
    json!([{"format": "openai", "surface": "chat-completions"}])
}

fn anthropic_only() -> Value {
    json!([{"format": "anthropic", "surface": "messages"}])
}

fn ok(body: Value) -> Reply {
    Reply::Json {
        status: 200,
        headers: vec![],
        body,
    }
}

async fn with_header(app: &TestApp, path: &str, body: Value, lenient: bool) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body);
    if lenient {
        req = req.header("x-modelgate-translation", "lenient");
    }
    req.send().await.unwrap()
}

#[actix_web::test]
async fn an_anthropic_call_with_tools_is_served_by_an_openai_only_provider() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    add_key(&app, "vllm", "sk-openai-upstream").await;
    mock.then(ok(json!({
        "id": "chatcmpl-7", "object": "chat.completion", "created": 1, "model": "qwen-served",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Let me look.",
            "tool_calls": [{"id": "call_b", "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 12, "total_tokens": 62,
                  "prompt_tokens_details": {"cached_tokens": 20}},
    })));
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", ADMIN_TOKEN)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({
            "model": "vllm:qwen", "max_tokens": 300, "system": "Be brief.",
            "tools": [{"name": "get_weather", "description": "Weather of a city",
                       "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "auto"},
            "messages": [
                {"role": "user", "content": "Paris, then Rome?"},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18C"}]}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-modelgate-provider"], "vllm");
    assert!(
        res.headers()
            .get("x-modelgate-translation-dropped")
            .is_none()
    );
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"id": "chatcmpl-7", "type": "message", "role": "assistant", "model": "vllm:qwen",
               "content": [{"type": "text", "text": "Let me look."},
                           {"type": "tool_use", "id": "call_b", "name": "get_weather", "input": {"city": "Rome"}}],
               "stop_reason": "tool_use", "stop_sequence": null,
               "usage": {"input_tokens": 30, "output_tokens": 12, "cache_creation_input_tokens": 0,
                         "cache_read_input_tokens": 20}})
    );
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.headers["authorization"], "Bearer sk-openai-upstream");
    assert!(
        !seen.headers.contains_key("x-api-key") && !seen.headers.contains_key("anthropic-version")
    );
    assert_eq!(
        seen.body,
        json!({"model": "qwen", "max_tokens": 300, "tool_choice": "auto",
               "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
               "messages": [
                   {"role": "system", "content": "Be brief."},
                   {"role": "user", "content": "Paris, then Rome?"},
                   {"role": "assistant", "content": null, "tool_calls": [{"id": "toolu_a", "type": "function",
                       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                   {"role": "tool", "tool_call_id": "toolu_a", "content": "18C"}]})
    );
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn an_openai_call_with_tools_is_served_by_an_anthropic_only_provider() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "claude",
        &mock.base,
        &["sonnet"],
        anthropic_only(),
    ))
    .await;
    add_key(&app, "claude", "sk-ant-upstream").await;
    mock.then(ok(json!({
        "id": "msg_9", "type": "message", "role": "assistant", "model": "sonnet-2026",
        "content": [{"type": "text", "text": "Done: "}, {"type": "text", "text": "18C."}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 5,
                  "cache_creation_input_tokens": 2},
    })));
    let res = call(&app, "/v1/chat/completions", json!({
        "model": "sonnet", "temperature": 0.3, "stop": "END", "user": "ann",
        "tools": [{"type": "function", "function": {"name": "get_weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "required",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"}],
    }))
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let answer: Value = res.json().await.unwrap();
    assert!(
        answer["created"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000),
        "{answer}"
    );
    assert_eq!(answer["model"], "sonnet");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(
        answer["choices"],
        json!([{"index": 0, "logprobs": null, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Done: 18C."}}])
    );
    assert_eq!(
        answer["usage"],
        json!({"prompt_tokens": 14, "completion_tokens": 3, "total_tokens": 17,
               "prompt_tokens_details": {"cached_tokens": 5}})
    );
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], "sk-ant-upstream");
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert!(!seen.headers.contains_key("authorization"));
    assert_eq!(
        seen.body,
        json!({"model": "sonnet", "max_tokens": 4096, "system": "Be brief.", "temperature": 0.3,
               "stop_sequences": ["END"], "metadata": {"user_id": "ann"},
               "tools": [{"name": "get_weather",
                          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
               "tool_choice": {"type": "any"},
               "messages": [
                   {"role": "user", "content": "Paris?"},
                   {"role": "assistant", "content": [
                       {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]},
                   {"role": "user", "content": [
                       {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"}]}]})
    );
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn an_upstreams_error_comes_in_the_callers_shape_with_its_status() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "claude",
        &mock.base,
        &["sonnet"],
        anthropic_only(),
    ))
    .await;
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    mock.then(Reply::Json {
        status: 400,
        headers: vec![],
        body: json!({"type": "error", "error": {"type": "invalid_request_error",
                     "message": "max_tokens: 999999 > 64000"}, "secret": "upstream-body"}),
    });
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "sonnet", "max_tokens": 999999,
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let error = openai_error(res, 400, "invalid_request_error").await;
    assert_eq!(error["message"], "max_tokens: 999999 > 64000");
    assert_eq!(error["type"], "invalid_request_error");
    mock.then(Reply::Json {
        status: 429,
        headers: vec![("retry-after", "7")],
        body: json!({"error": {"message": "Rate limit reached", "type": "requests",
                     "code": "rate_limit_exceeded"}}),
    });
    let res = call(
        &app,
        "/v1/messages",
        json!({"model": "qwen", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(res.headers()["retry-after"], "7");
    let error = anthropic_error(res, 429, "rate_limit_error").await;
    assert_eq!(
        error,
        json!({"type": "rate_limit_error", "message": "Rate limit reached"})
    );
    // A success whose body is no answer of the provider's format: a clean 502.
    mock.then(ok(json!({"choices": "none"})));
    let res = call(
        &app,
        "/v1/messages",
        json!({"model": "vllm:qwen", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let error = anthropic_error(res, 502, "api_error").await;
    assert!(
        error["message"].as_str().unwrap().contains("vllm"),
        "{error}"
    );
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_field_the_provider_cannot_express_is_refused_unless_the_call_is_lenient() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "claude",
        &mock.base,
        &["sonnet"],
        anthropic_only(),
    ))
    .await;
    let body = json!({"model": "sonnet", "n": 2, "logit_bias": {"1": 5}, "max_tokens": 9,
                      "messages": [{"role": "user", "content": "hi"}]});
    let res = with_header(&app, "/v1/chat/completions", body.clone(), false).await;
    let error = openai_error(res, 400, "translation_unsupported_field").await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("`n`") && message.contains("`logit_bias`"),
        "{message}"
    );
    assert!(mock.seen().is_empty(), "a refused call reaches no upstream");
    mock.then(ok(json!({"id": "msg_1", "type": "message", "content": [{"type": "text", "text": "hey"}],
                        "stop_reason": "max_tokens", "usage": {"input_tokens": 1, "output_tokens": 9}})));
    let res = with_header(&app, "/v1/chat/completions", body, true).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-modelgate-translation-dropped"],
        "logit_bias, n"
    );
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    let seen = mock.last();
    assert!(seen.body.get("n").is_none() && seen.body.get("logit_bias").is_none());
    assert_eq!(seen.body["max_tokens"], 9);
    // The other way: Anthropic's `top_k` has no OpenAI counterpart the provider declares.
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    let body = json!({"model": "qwen", "max_tokens": 5, "top_k": 3,
                      "messages": [{"role": "user", "content": "hi"}]});
    let res = with_header(&app, "/v1/messages", body, false).await;
    let error = anthropic_error(res, 400, "invalid_request_error").await;
    assert!(
        error["message"].as_str().unwrap().contains("`top_k`"),
        "{error}"
    );
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-modelgate-translation", "sloppy")
        .json(&json!({"model": "sonnet", "messages": []}))
        .send()
        .await
        .unwrap();
    openai_error(res, 400, "invalid_header").await;
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_native_candidate_goes_before_a_translated_one_which_serves_when_it_fails() {
    let app = spawn_app().await;
    let (claude, openai) = (Mock::start().await, Mock::start().await);
    // The Anthropic-only provider is the older: by creation order alone it would go first.
    app.create(&registered(
        "claude",
        &claude.base,
        &["m"],
        anthropic_only(),
    ))
    .await;
    app.create(&registered("local", &openai.base, &["m"], openai_only()))
        .await;
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let res = call(&app, "/v1/chat/completions", chat.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-modelgate-provider"], "local");
    assert!(claude.seen().is_empty());
    // The native one fails: the translated one answers, in the caller's format.
    openai.then(Reply::Json {
        status: 500,
        headers: vec![],
        body: json!({"error": {"message": "down"}}),
    });
    claude.then(ok(json!({"id": "msg_2", "type": "message", "content": [{"type": "text", "text": "ok"}],
                          "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}})));
    let res = call(&app, "/v1/chat/completions", chat).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-modelgate-provider"], "claude");
    assert_eq!(res.headers()["x-modelgate-fallbacks"], "1");
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "ok");
    assert_eq!(claude.last().path, "/v1/messages");
    claude.stop().await;
    openai.stop().await;
    app.stop().await;
}

/// The events of an SSE body: (event name, data), data `[DONE]` kept as a string.
fn events(body: &[u8]) -> Vec<(Option<String>, Value)> {
    let text = std::str::from_utf8(body).unwrap();
    text.split_terminator("\n\n")
        .map(|event| {
            let (mut name, mut data) = (None, Value::Null);
            for line in event.lines() {
                match line.split_once(": ") {
                    Some(("event", v)) => name = Some(v.to_owned()),
                    Some(("data", "[DONE]")) => data = json!("[DONE]"),
                    Some(("data", v)) => data = serde_json::from_str(v).unwrap(),
                    _ => panic!("odd line {line:?}"),
                }
            }
            (name, data)
        })
        .collect()
}

async fn rest_of(
    mut body: impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin,
) -> Vec<u8> {
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await {
        all.extend_from_slice(&chunk.unwrap());
    }
    all
}

#[actix_web::test]
async fn an_anthropic_stream_is_served_by_an_openai_only_provider_event_by_event() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    let capture = include_str!("../fixtures/translate/openai_stream.sse");
    let chunks: Vec<&str> = capture.split_inclusive("\n\n").collect();
    let (feed, _gone) = mock.then_stream();
    // The role chunk and the first content: enough for the client to hear the message begin.
    for chunk in &chunks[..3] {
        feed.send(Bytes::from(chunk.to_string())).unwrap();
    }
    let res = call(
        &app,
        "/v1/messages",
        json!({"model": "qwen", "max_tokens": 50, "stream": true,
        "messages": [{"role": "user", "content": "Paris and Rome?"}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.bytes_stream();
    let mut first = Vec::new();
    while !first.ends_with(b"\n\n") || events(&first).len() < 3 {
        first.extend_from_slice(&body.next().await.unwrap().unwrap());
    }
    let names: Vec<String> = events(&first).into_iter().filter_map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta"
        ]
    );
    // The rest, tool arguments split across chunks, arrives after the first was read.
    for chunk in &chunks[3..] {
        feed.send(Bytes::from(chunk.to_string())).unwrap();
    }
    drop(feed);
    first.extend(rest_of(body).await);
    let all = events(&first);
    let want: Vec<(String, Value)> = serde_json::from_str(include_str!(
        "../fixtures/translate/openai_stream_as_anthropic.json"
    ))
    .unwrap();
    let got: Vec<(String, Value)> = all
        .into_iter()
        .map(|(n, mut d)| {
            if n.as_deref() == Some("message_start") {
                d["message"]["model"] = json!("caller-model");
            }
            (n.unwrap(), d)
        })
        .collect();
    assert_eq!(got, want);
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.body["stream"], true);
    assert_eq!(seen.body["stream_options"], json!({"include_usage": true}));
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn an_openai_stream_is_served_by_an_anthropic_only_provider_with_its_usage() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "claude",
        &mock.base,
        &["sonnet"],
        anthropic_only(),
    ))
    .await;
    let (feed, _gone) = mock.then_stream();
    feed.send(Bytes::from_static(
        include_str!("../fixtures/translate/anthropic_stream.sse").as_bytes(),
    ))
    .unwrap();
    drop(feed);
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "sonnet", "stream": true,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Paris?"}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let all = events(&rest_of(res.bytes_stream()).await);
    assert_eq!(all.last().unwrap().1, "[DONE]");
    let text: String = all
        .iter()
        .filter_map(|(_, d)| d["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Let me check.");
    let arguments: String = all
        .iter()
        .filter_map(|(_, d)| {
            d["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "Paris"})
    );
    let finish: Vec<&Value> = all
        .iter()
        .map(|(_, d)| &d["choices"][0]["finish_reason"])
        .filter(|f| f.is_string())
        .collect();
    assert_eq!(finish, [&json!("tool_calls")]);
    let usage = &all[all.len() - 2].1;
    assert_eq!(usage["model"], "sonnet");
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 40, "completion_tokens": 42, "total_tokens": 82,
               "prompt_tokens_details": {"cached_tokens": 12}})
    );
    let seen = mock.last();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.body["stream"], true);
    assert!(seen.body.get("stream_options").is_none());
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_translated_stream_cut_short_ends_with_an_error_event_in_the_callers_format() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    let (feed, _gone) = mock.then_stream();
    feed.send(Bytes::from_static(
        b"data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
    ))
    .unwrap();
    drop(feed);
    let res = call(
        &app,
        "/v1/messages",
        json!({"model": "qwen", "max_tokens": 5, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let all = events(&rest_of(res.bytes_stream()).await);
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(all[3].1["type"], "error");
    assert!(all[3].1["error"]["message"].is_string(), "{:?}", all[3]);
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_count_of_tokens_for_a_provider_without_that_route_is_an_estimate_marked_so() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    app.create(&registered(
        "claude",
        &mock.base,
        &["sonnet"],
        anthropic_only(),
    ))
    .await;
    let messages = json!([{"role": "user", "content": "Count these words, please."}]);
    for model in ["vllm:qwen", "sonnet"] {
        let res = call(
            &app,
            "/v1/messages/count_tokens",
            json!({"model": model, "system": "Be brief.", "messages": messages}),
        )
        .await;
        assert_eq!(res.status(), 200, "{model}");
        assert_eq!(res.headers()["x-modelgate-estimate"], "true");
        let counted: Value = res.json().await.unwrap();
        // The bytes of `system` and `messages` over 4, as maxInputTokens estimates them.
        let bytes = json!("Be brief.").to_string().len() + messages.to_string().len();
        assert_eq!(
            counted,
            json!({"input_tokens": bytes.div_ceil(4)}),
            "{model}"
        );
    }
    assert!(mock.seen().is_empty(), "an estimate asks no upstream");
    mock.stop().await;
    app.stop().await;
}
