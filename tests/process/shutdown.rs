//! SIGTERM: work in flight, a request or a stream, finishes; the store is flushed; exit 0.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

use crate::harness::{Server, TOKEN, client, send};

#[tokio::test]
async fn sigterm_finishes_in_flight_work_flushes_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    let res = client()
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"providerId": "graceful", "name": "g", "baseUrl": "http://x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (status, log) = server.terminate();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("store flushed"), "{log}");
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    let list: Value = client()
        .get(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["aiGatewayProviders"][0]["providerId"], "graceful");
}

/// SIGTERM while a model call streams: the stream in flight runs to its end, then the server
/// exits cleanly. The upstream is a bare HTTP/1.1 server in this test that sends its second
/// half only when told to, after the signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_stream_in_flight_finish() {
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut head = vec![0; 65536];
        let _ = sock.read(&mut head).await.unwrap();
        sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {\"n\":1}\n\n")
            .await
            .unwrap();
        go_rx.await.unwrap();
        sock.write_all(b"data: {\"n\":2}\n\ndata: [DONE]\n\n")
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        &dir.path().join("data"),
        &[("MODELGATE_ADMIN_TOKEN", TOKEN)],
    );
    let http = client();
    let (status, _) = send(
        http.post(format!("{}/providers", server.base))
            .json(&json!({"providerId": "up", "name": "up", "baseUrl": upstream})),
    )
    .await;
    assert_eq!(status, 201);
    let res = http
        .post(format!("{}/v1/chat/completions", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "up:m", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"data: {\"n\":1}\n\n");
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).unwrap();
    go.send(()).unwrap();
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, b"data: {\"n\":2}\n\ndata: [DONE]\n\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after the stream ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}: {}", server.log_text());
    // One line per model call, with what it went to and how it ended; never a token or body.
    std::thread::sleep(Duration::from_millis(100));
    let log = server.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("modelgate::proxy"))
        .unwrap_or_else(|| panic!("no data-plane log line: {log}"));
    assert!(
        line.contains("/v1/chat/completions provider=up model=m status=200")
            && line.contains("streamed=true"),
        "{line}"
    );
    assert!(!log.contains(TOKEN) && !log.contains("\"stream\""), "{log}");
}
