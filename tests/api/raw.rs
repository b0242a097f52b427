//! Raw-socket upstreams for tests of what the gateway does when an upstream misbehaves or a
//! client leaves: `raw_upstream` plays one behaviour per connection and reports each request's
//! arrival and each connection's close, so tests synchronise on those instead of on time;
//! `scripted` answers each connection with the bytes it is given, as they are.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the raw upstream sends on each connection, in order of arrival.
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Reads the request and answers nothing.
    Hang,
    /// Sends a stream's head and one content event, then nothing.
    QuietStream,
    /// Sends a stream's head and a role-only opening (no content yet), then nothing.
    OpeningOnly,
    /// Answers a complete JSON completion.
    Answer,
    /// Sends a stream's head, then a keep-alive comment (or, with `content`, a content event)
    /// again and again until the gateway closes the connection.
    Trickle { content: bool },
}

pub enum Event {
    Arrived(usize),
    Closed(usize),
}

/// A listener that plays `plan` (one behaviour per connection, the last repeated) and reports
/// each request's arrival and each connection's close.
pub async fn raw_upstream(plan: Vec<Behaviour>) -> (String, mpsc::UnboundedReceiver<Event>) {
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
                    Behaviour::Hang | Behaviour::Trickle { .. } => String::new(),
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
                if let Behaviour::Trickle { content } = behaviour {
                    let line = match content {
                        true => "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n",
                        false => ": keep-alive\n\n",
                    };
                    let mut head = sse.to_owned();
                    loop {
                        head.push_str(&chunk(line));
                        if socket.write_all(head.as_bytes()).await.is_err() {
                            let _ = tx.send(Event::Closed(n));
                            return;
                        }
                        head.clear();
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                // Then wait for the gateway to close its side.
                while socket.read(&mut buf).await.unwrap_or(0) > 0 {}
                let _ = tx.send(Event::Closed(n));
            });
        }
    });
    (base, rx)
}

/// An upstream on a raw socket: each connection's request is read whole and answered with the
/// next of `answers`, and the connection closed (which ends a body sent without a length).
pub async fn scripted(answers: Vec<Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    actix_web::rt::spawn(async move {
        for answer in answers {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            let head_end = loop {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
                if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
            };
            let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            while request.len() < head_end + length {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            socket.write_all(&answer).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    base
}

/// The next event, within a bound that only a broken build reaches.
pub async fn next(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("the upstream heard nothing within 20 s")
        .expect("the upstream is running")
}

impl std::fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Behaviour::Hang => "hang",
            Behaviour::QuietStream => "quiet stream",
            Behaviour::OpeningOnly => "opening only",
            Behaviour::Answer => "answer",
            Behaviour::Trickle { content: false } => "trickle of keep-alives",
            Behaviour::Trickle { content: true } => "trickle of content",
        })
    }
}
