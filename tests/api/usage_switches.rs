//! The `[usage]` switches. `inject_stream_usage`: an OpenAI-format stream is asked for its
//! usage when its caller did not ask, its tokens are counted, and the caller never sees the
//! usage-only chunk it did not ask for; a caller that asked sees it as before. `enabled`:
//! off, calls record nothing.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::helpers::data_plane::{call, registered};
use crate::helpers::{TestApp, spawn_app, spawn_app_in, spawn_app_with};
use crate::raw::scripted;
use crate::upstream::Mock;
use crate::usage::events;

const CHUNKS: [&str; 4] = [
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\r\n\r\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n",
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5}}\r\n\r\n",
    "data: [DONE]\r\n\r\n",
];

/// A stream of `CHUNKS` through the gateway for `body`; what the caller got, and the body
/// the upstream was sent.
async fn streamed(app: &TestApp, mock: &Mock, body: Value) -> (String, Value) {
    let (tx, _gone) = mock.then_stream();
    // Split as a hostile upstream might: the usage chunk cut in two, a CRLF across reads.
    let all = CHUNKS.concat();
    let cut = all.find("usage").unwrap();
    for piece in [&all[..cut], &all[cut..all.len() - 1], &all[all.len() - 1..]] {
        tx.send(Bytes::from(piece.to_owned())).unwrap();
    }
    drop(tx);
    let res = call(app, "/v1/chat/completions", body).await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    (text, mock.last().body)
}

/// The newest event, with its timing fields.
async fn last_event(app: &TestApp) -> Value {
    events(app, "include=timing", 1).await.swap_remove(0)
}

async fn with_provider(app: &TestApp) -> Mock {
    let mock = Mock::start().await;
    app.create(&registered(
        "oai",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    mock
}

#[actix_web::test]
async fn an_unasked_stream_is_counted_and_its_usage_chunk_kept_from_the_caller() {
    let app = spawn_app().await;
    let mock = with_provider(&app).await;
    let body = json!({"model": "oai:m", "stream": true, "messages": [],
                      "stream_options": {"include_obfuscation": false}});
    let (got, sent) = streamed(&app, &mock, body).await;

    assert_eq!(
        sent["stream_options"],
        json!({"include_obfuscation": false, "include_usage": true}),
        "the caller's options kept, usage asked"
    );
    let expected = [CHUNKS[0], CHUNKS[1], CHUNKS[3]].concat();
    assert_eq!(got, expected, "every other byte as the upstream sent it");
    let e = last_event(&app).await;
    assert_eq!(
        (&e["inputTokens"], &e["outputTokens"]),
        (&json!(12), &json!(5))
    );
    assert_eq!(e["tokensKnown"], true);
    app.stop().await;
}

#[actix_web::test]
async fn a_caller_that_asked_for_usage_gets_its_chunk() {
    let app = spawn_app().await;
    let mock = with_provider(&app).await;
    let body = json!({"model": "oai:m", "stream": true, "messages": [],
                      "stream_options": {"include_usage": true}});
    let (got, sent) = streamed(&app, &mock, body).await;
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert_eq!(got, CHUNKS.concat());
    app.stop().await;
}

#[actix_web::test]
async fn a_body_not_streamed_is_sent_as_it_came() {
    let app = spawn_app().await;
    let mock = with_provider(&app).await;
    mock.then(crate::upstream::Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
    });
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "oai:m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(mock.last().body.get("stream_options").is_none());
    app.stop().await;
}

#[actix_web::test]
async fn turned_off_the_stream_goes_as_the_caller_sent_it() {
    let app = spawn_app_with(|s| s.usage.inject_stream_usage = false).await;
    let mock = with_provider(&app).await;
    let body = json!({"model": "oai:m", "stream": true, "messages": []});
    let (got, sent) = streamed(&app, &mock, body).await;
    assert!(sent.get("stream_options").is_none(), "{sent}");
    assert_eq!(got, CHUNKS.concat());
    app.stop().await;
}

#[actix_web::test]
async fn usage_turned_off_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |s| s.usage.enabled = false).await;
    let mock = with_provider(&app).await;
    mock.then(crate::upstream::Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
    });
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "oai:m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    // Stopping writes whatever was queued: had the call been recorded, it would be read now.
    app.stop().await;
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let body: Value = app
        .get("/usage?startTime=2020-01-01T00:00:00Z&includeRetries=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["aiGatewayUsage"], json!([]), "{body}");
    app.stop().await;
}

#[actix_web::test]
async fn a_gzip_stream_is_counted_and_its_usage_chunk_kept_from_the_caller() {
    use std::io::Write;
    let app = spawn_app().await;
    let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    packed.write_all(CHUNKS.concat().as_bytes()).unwrap();
    let head = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: text/event-stream\r\n\
                content-encoding: gzip\r\n\r\n";
    let base = scripted(vec![[head.as_bytes(), &packed.finish().unwrap()].concat()]).await;
    app.create(&registered(
        "gz",
        &format!("{base}/v1"),
        &["m"],
        json!(null),
    ))
    .await;
    let body = json!({"model": "gz:m", "stream": true, "messages": []});
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(res.status(), 200);
    // Decoded before the usage chunk was looked for: the caller gets the rest, unpacked.
    let expected = [CHUNKS[0], CHUNKS[1], CHUNKS[3]].concat();
    assert_eq!(res.text().await.unwrap(), expected);
    let e = last_event(&app).await;
    assert_eq!(
        (&e["inputTokens"], &e["outputTokens"], &e["tokensKnown"]),
        (&json!(12), &json!(5), &json!(true))
    );
    app.stop().await;
}
