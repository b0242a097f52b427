//! Streams: event by event to the client, and the upstream stopped when the client leaves.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::json;

use crate::helpers::data_plane::{call, registered};
use crate::helpers::{TestApp, spawn_app};
use crate::upstream::Mock;

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
