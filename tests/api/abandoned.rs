//! A client that leaves (closes its socket, as an SDK's abort does) ends its upstream call at
//! once — waiting for the head, before a stream's first content, or in a quiet stretch of a
//! stream — and frees the provider's queue slot for the next caller. The upstream here is a raw
//! socket that tells the test when a request arrives and when its connection closes.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};

/// What the raw upstream sends on each connection, in order of arrival.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Reads the request and answers nothing.
    Hang,
    /// Sends a stream's head and one content event, then nothing.
    QuietStream,
    /// Sends a stream's head and a role-only opening (no content yet), then nothing.
    OpeningOnly,
    /// Answers a complete JSON completion.
    Answer,
}

enum Event {
    Arrived(usize),
    Closed(usize),
}

/// A listener that plays `plan` (one behaviour per connection, the last repeated) and reports
/// each request's arrival and each connection's close.
async fn raw_upstream(plan: Vec<Behaviour>) -> (String, mpsc::UnboundedReceiver<Event>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for n in 0.. {
            let (mut socket, _) = listener.accept().await.unwrap();
            let behaviour = plan[n.min(plan.len() - 1)];
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                // The request: its head, then as many bytes as its content-length says.
                loop {
                    let read = socket.read(&mut buf).await.unwrap_or(0);
                    if read == 0 {
                        let _ = tx.send(Event::Closed(n));
                        return;
                    }
                    got.extend_from_slice(&buf[..read]);
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = tx.send(Event::Arrived(n));
                let sse = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                           transfer-encoding: chunked\r\n\r\n";
                let chunk = |s: &str| format!("{:x}\r\n{s}\r\n", s.len());
                let out = match behaviour {
                    Behaviour::Hang => String::new(),
                    Behaviour::QuietStream => format!(
                        "{sse}{}",
                        chunk("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n")
                    ),
                    Behaviour::OpeningOnly => format!(
                        "{sse}{}",
                        chunk("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n")
                    ),
                    Behaviour::Answer => {
                        let body = r#"{"id":"x","object":"chat.completion","choices":[]}"#;
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    }
                };
                if socket.write_all(out.as_bytes()).await.is_err() {
                    let _ = tx.send(Event::Closed(n));
                    return;
                }
                // Then wait for the gateway to close its side.
                while socket.read(&mut buf).await.unwrap_or(0) > 0 {}
                let _ = tx.send(Event::Closed(n));
            });
        }
    });
    (base, rx)
}

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

/// The next event, within a bound that only a broken build reaches.
async fn next(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("the upstream heard nothing within 20 s")
        .expect("the upstream is running")
}

async fn one_slot_provider(app: &TestApp, base: &str) {
    app.create(&json!({
        "providerId": "solo", "name": "solo", "baseUrl": base,
        "models": [{"modelId": "m"}], "concurrency": 1,
    }))
    .await;
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

impl std::fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Behaviour::Hang => "hang",
            Behaviour::QuietStream => "quiet stream",
            Behaviour::OpeningOnly => "opening only",
            Behaviour::Answer => "answer",
        })
    }
}
