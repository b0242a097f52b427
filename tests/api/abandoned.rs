//! A client that leaves (closes its socket, as an SDK's abort does) ends its upstream call at
//! once — waiting for the head, before a stream's first content, or in a quiet stretch of a
//! stream — and frees the provider's queue slot for the next caller. The upstream here is a raw
//! socket that tells the test when a request arrives and when its connection closes.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::data_plane::registered;
use crate::helpers::{ADMIN_TOKEN, TestApp, merged, spawn_app};
use crate::raw::{Behaviour, Event, next, raw_upstream};

/// A model call written by hand on a socket the test closes when it likes.
async fn raw_call(app: &TestApp, stream: bool) -> TcpStream {
    let body = json!({"model": "solo:m", "stream": stream, "messages": []}).to_string();
    let addr = app.address.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer \
         {ADMIN_TOKEN}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    socket
}

async fn one_slot_provider(app: &TestApp, base: &str) {
    let solo = registered("solo", base, &["m"], json!(null));
    app.create(&merged(solo, json!({"concurrency": 1}))).await;
}

#[actix_web::test]
async fn a_client_that_leaves_ends_its_upstream_call_and_frees_the_slot() {
    for (first, stream) in [
        (Behaviour::Hang, false),
        (Behaviour::Hang, true),
        (Behaviour::OpeningOnly, true),
        (Behaviour::QuietStream, true),
    ] {
        let app = spawn_app().await;
        let (base, mut events) = raw_upstream(vec![first, Behaviour::Answer]).await;
        one_slot_provider(&app, &base).await;
        let mut socket = raw_call(&app, stream).await;
        assert!(matches!(next(&mut events).await, Event::Arrived(0)));
        if matches!(first, Behaviour::QuietStream) {
            // The client has its first content, then the stream goes quiet.
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            while !String::from_utf8_lossy(&seen).contains("Hi") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the gateway closed the stream");
                seen.extend_from_slice(&buf[..n]);
            }
        }
        socket.shutdown().await.unwrap();
        drop(socket);
        // The gateway closes the upstream connection: the call is over upstream too.
        assert!(
            matches!(next(&mut events).await, Event::Closed(0)),
            "{first:?} stream={stream}"
        );
        // And the provider's one slot is free for the next caller at once.
        let res = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"model": "solo:m", "messages": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{first:?} stream={stream}");
        app.stop().await;
    }
}
