//! The usage event of a translated call carries the upstream's own counts and stop reason,
//! read from the upstream's bytes before they are translated: the caller's format has no
//! place for some of them (OpenAI's reasoning tokens in Anthropic's usage, Anthropic's cache
//! writes in OpenAI's), and an OpenAI caller's stream tells none unless asked.

use bytes::Bytes;
use serde_json::{Value, json};

use super::{anthropic_only, ok, openai_only, rest_of};
use crate::helpers::data_plane::{call, registered};
use crate::helpers::{TestApp, spawn_app};
use crate::upstream::Mock;
use crate::usage::events;

/// The counts of the only event, as `?include=timing` shows them (cache writes included).
async fn counted(app: &TestApp) -> Value {
    let list = events(app, "include=timing", 1).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let e = &list[0];
    json!({
        "input": e["inputTokens"], "output": e["outputTokens"],
        "cacheRead": e["cacheReadTokens"], "cacheWrite": e["cacheWriteTokens"],
        "reasoning": e["reasoningTokens"], "known": e["tokensKnown"],
        "stop": e["stopReason"], "streaming": e["isStreaming"], "status": e["statusCode"],
        "provider": e["provider"], "model": e["model"],
    })
}

fn tokens(input: u64, output: u64, read: u64, write: u64, reasoning: u64) -> Value {
    json!({"input": input, "output": output, "cacheRead": read, "cacheWrite": write,
           "reasoning": reasoning, "known": true})
}

/// `counted` cut to the token fields `tokens` makes.
fn only_tokens(mut all: Value) -> Value {
    let keep = [
        "input",
        "output",
        "cacheRead",
        "cacheWrite",
        "reasoning",
        "known",
    ];
    all.as_object_mut()
        .unwrap()
        .retain(|k, _| keep.contains(&k.as_str()));
    all
}

#[actix_web::test]
async fn an_anthropic_call_to_an_openai_provider_counts_the_openai_usage_with_reasoning() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    mock.then(ok(json!({
        "id": "chatcmpl-u", "object": "chat.completion", "created": 1, "model": "qwen",
        "choices": [{"index": 0, "finish_reason": "length",
                     "message": {"role": "assistant", "content": "Par"}}],
        "usage": {"prompt_tokens": 61, "completion_tokens": 33, "total_tokens": 94,
                  "prompt_tokens_details": {"cached_tokens": 17},
                  "completion_tokens_details": {"reasoning_tokens": 29}},
    })));
    let res = call(
        &app,
        "/v1/messages",
        json!({"model": "qwen", "max_tokens": 33,
               "messages": [{"role": "user", "content": "Paris?"}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["stop_reason"], "max_tokens", "{answer}");
    let e = counted(&app).await;
    assert_eq!(only_tokens(e.clone()), tokens(44, 33, 17, 0, 29));
    // The provider's word, as for any call it answered.
    assert_eq!(
        (&e["stop"], &e["streaming"], &e["status"]),
        (&json!("length"), &json!(false), &json!(200))
    );
    assert_eq!(
        (&e["provider"], &e["model"]),
        (&json!("vllm"), &json!("qwen"))
    );
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn an_openai_call_to_an_anthropic_provider_counts_its_cache_writes_apart() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "claude",
        &mock.base,
        &["sonnet"],
        anthropic_only(),
    ))
    .await;
    mock.then(ok(json!({
        "id": "msg_u", "type": "message", "role": "assistant", "model": "sonnet",
        "content": [{"type": "text", "text": "18C."}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 5,
                  "cache_creation_input_tokens": 2},
    })));
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "sonnet", "messages": [{"role": "user", "content": "Paris?"}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    // OpenAI's shape counts the cache write in the prompt, with no field of its own…
    assert_eq!(answer["usage"]["prompt_tokens"], 14, "{answer}");
    // … the event keeps it apart, as the provider said it.
    let e = counted(&app).await;
    assert_eq!(only_tokens(e.clone()), tokens(7, 3, 5, 2, 0));
    assert_eq!(e["stop"], "end_turn");
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn an_anthropic_stream_from_an_openai_provider_counts_its_usage_chunk() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    let (feed, _gone) = mock.then_stream();
    feed.send(Bytes::from_static(
        include_str!("../../fixtures/translate/openai_stream.sse").as_bytes(),
    ))
    .unwrap();
    drop(feed);
    let res = call(
        &app,
        "/v1/messages",
        json!({"model": "qwen", "max_tokens": 50, "stream": true,
               "messages": [{"role": "user", "content": "Paris and Rome?"}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body = String::from_utf8(rest_of(res.bytes_stream()).await).unwrap();
    assert!(body.contains("event: message_stop"), "{body}");
    let e = counted(&app).await;
    // The fixture's usage chunk: 40 prompt tokens, 10 of them cached; 25 completion tokens.
    assert_eq!(only_tokens(e.clone()), tokens(30, 25, 10, 0, 0));
    assert_eq!(
        (&e["stop"], &e["streaming"]),
        (&json!("tool_calls"), &json!(true))
    );
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn an_openai_stream_from_an_anthropic_provider_is_counted_though_the_caller_asked_none() {
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
        include_str!("../../fixtures/translate/anthropic_stream.sse").as_bytes(),
    ))
    .unwrap();
    drop(feed);
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "sonnet", "stream": true,
               "messages": [{"role": "user", "content": "Paris?"}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body = String::from_utf8(rest_of(res.bytes_stream()).await).unwrap();
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    assert!(
        !body.contains("\"usage\":{"),
        "no usage chunk unasked: {body}"
    );
    let e = counted(&app).await;
    // The fixture's message_start (25 uncached, 12 read, 3 written) and message_delta (42).
    assert_eq!(only_tokens(e.clone()), tokens(25, 42, 12, 3, 0));
    assert_eq!(
        (&e["stop"], &e["streaming"]),
        (&json!("tool_use"), &json!(true))
    );
    mock.stop().await;
    app.stop().await;
}

#[actix_web::test]
async fn a_caller_that_leaves_a_translated_stream_is_recorded_with_what_had_passed() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("vllm", &mock.base, &["qwen"], openai_only()))
        .await;
    let (feed, _gone) = mock.then_stream();
    feed.send(Bytes::from_static(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
    ))
    .unwrap();
    let mut res = call(
        &app,
        "/v1/messages",
        json!({"model": "qwen", "max_tokens": 5, "stream": true,
               "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let first = res.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"event: message_start"), "{first:?}");
    drop(res);
    // The upstream never ended its stream: the caller's leaving ends the attempt.
    let e = counted(&app).await;
    assert_eq!(
        (&e["stop"], &e["status"], &e["streaming"]),
        (&json!("client_disconnected"), &json!(200), &json!(true))
    );
    drop(feed);
    mock.stop().await;
    app.stop().await;
}
