//! The Responses API's usage (`usage` of the body, `response.completed` of a stream) on its
//! events, with its cached and reasoning parts, as the upstream reported them.

use bytes::Bytes;
use serde_json::json;

use crate::helpers::data_plane::{call, registered};
use crate::helpers::spawn_app;
use crate::upstream::{Mock, Reply};
use crate::usage::events;

fn usage() -> serde_json::Value {
    json!({"input_tokens": 20, "input_tokens_details": {"cached_tokens": 4},
           "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 3},
           "total_tokens": 29})
}

#[actix_web::test]
async fn responses_bodies_and_streams_carry_the_upstream_s_counts() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let surfaces = json!([{"format": "openai", "surface": "responses"}]);
    app.create(&registered(
        "r",
        &format!("{}/v1", mock.base),
        &["m"],
        surfaces,
    ))
    .await;

    mock.then(Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"id": "resp_1", "object": "response", "status": "completed",
                     "output": [], "usage": usage()}),
    });
    let res = call(
        &app,
        "/v1/responses",
        json!({"model": "r:m", "input": "hi"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();

    let (tx, _gone) = mock.then_stream();
    let completed = json!({"type": "response.completed",
                           "response": {"id": "resp_2", "status": "completed", "usage": usage()}});
    for event in [
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_2\",\"status\":\"in_progress\",\"usage\":null}}\n\n".to_owned(),
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n".to_owned(),
        format!("event: response.completed\ndata: {completed}\n\n"),
    ] {
        tx.send(Bytes::from(event)).unwrap();
    }
    drop(tx);
    let res = call(
        &app,
        "/v1/responses",
        json!({"model": "r:m", "input": "hi", "stream": true}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("response.completed"), "{text}");

    let list = events(&app, "include=timing", 2).await;
    for (e, streaming) in [(&list[1], false), (&list[0], true)] {
        assert_eq!(e["isStreaming"], streaming, "{e}");
        // Input counts the uncached part; the cached part is its own.
        assert_eq!(
            (&e["inputTokens"], &e["cacheReadTokens"]),
            (&json!(16), &json!(4)),
            "{e}"
        );
        assert_eq!(
            (&e["outputTokens"], &e["reasoningTokens"]),
            (&json!(9), &json!(3)),
            "{e}"
        );
        assert_eq!(
            (&e["stopReason"], &e["tokensKnown"]),
            (&json!("completed"), &json!(true))
        );
    }
    app.stop().await;
}
