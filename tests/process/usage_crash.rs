//! `kill -9` while calls are recorded: both stores open again, every event kept is whole and
//! in its day's sums (they are written in one atomic batch), no event is kept twice, and what
//! can be lost is bounded by what had not been flushed — the events of the last batch window
//! (at most 100 ms) and those still queued. The test prints how many that was.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::harness::{Server, TOKEN, client, send};

const ANSWER: &str = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;

/// A chat-completions upstream on loopback: every request read to its blank line and its
/// body's length, then answered with `ANSWER`.
pub(crate) async fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_string();
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if seen.len() < head_end + 4 + length {
                        continue;
                    }
                    seen.drain(..head_end + 4 + length);
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
                        ANSWER.len()
                    );
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/v1")
}

pub(crate) async fn all_events(http: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut url =
        format!("{base}/usage?startTime=2020-01-01T00:00:00Z&includeRetries=true&limit=100");
    loop {
        let (status, page) = send(http.get(&url)).await;
        assert_eq!(status, 200, "{page}");
        events.extend(page["aiGatewayUsage"].as_array().unwrap().iter().cloned());
        match page["nextPageUri"].as_str() {
            // Absolute when `public_url` is set; here, a path on the server.
            Some(next) if next.starts_with('/') => url = format!("{base}{next}"),
            Some(next) => url = next.to_owned(),
            None => return events,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_under_load_leaves_usage_whole_and_the_registry_working() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = client();
    let base_url = upstream().await;
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    let (status, created) = send(http.post(format!("{}/providers", server.base)).json(
        &json!({"providerId": "box", "name": "Box", "baseUrl": base_url,
                          "models": [{"modelId": "m"}]}),
    ))
    .await;
    assert_eq!(status, 201, "{created}");

    // 16 callers call until the process dies; it is killed once 300 calls were answered.
    let answered = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let callers: Vec<_> = (0..16)
        .map(|_| {
            let (http, url) = (http.clone(), format!("{}/v1/chat/completions", server.base));
            let (answered, enough) = (Arc::clone(&answered), Arc::clone(&enough));
            tokio::spawn(async move {
                loop {
                    let res = http
                        .post(&url)
                        .bearer_auth(TOKEN)
                        .json(&json!({"model": "box:m", "messages": []}))
                        .send()
                        .await;
                    let Ok(res) = res else { return };
                    if res.status() == 200
                        && res.bytes().await.is_ok()
                        && answered.fetch_add(1, Ordering::SeqCst) + 1 == 300
                    {
                        enough.notify_one();
                    }
                }
            })
        })
        .collect();
    enough.notified().await;
    server.kill9();
    for caller in callers {
        caller.await.unwrap();
    }
    let answered = answered.load(Ordering::SeqCst);

    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    let (status, provider) = send(http.get(format!("{}/providers?limit=10", server.base))).await;
    assert_eq!(status, 200);
    assert_eq!(provider["aiGatewayProviders"][0]["providerId"], "box");
    let events = all_events(&http, &server.base).await;
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["requestId"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len(), "no event kept twice");
    for e in &events {
        assert_eq!(
            (&e["inputTokens"], &e["outputTokens"]),
            (&json!(3), &json!(2)),
            "{e}"
        );
        assert_eq!(e["statusCode"], 200);
    }
    // Calls may end upstream after the client's answer and before the kill, so a few more
    // events than answers can be kept; never more than were started (answers + callers).
    assert!(
        events.len() <= answered + 16,
        "{} events, {answered} answered",
        events.len()
    );
    let lost = answered.saturating_sub(events.len());
    eprintln!(
        "kill -9 after {answered} answered calls: {} events kept, {lost} lost",
        events.len()
    );

    let since = humantime::format_rfc3339_seconds(
        std::time::SystemTime::now() - std::time::Duration::from_secs(86_400),
    );
    let (status, overview) = send(http.get(format!(
        "{}/usage/overview?startTime={since}&include=tokens",
        server.base
    )))
    .await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["totals"]["requests"], events.len(), "{overview}");
    assert_eq!(
        overview["totals"]["outputTokens"],
        2 * events.len(),
        "{overview}"
    );

    // And usage goes on being recorded.
    let (status, _) = send(
        http.post(format!("{}/v1/chat/completions", server.base))
            .json(&json!({"model": "box:m", "messages": []})),
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..100 {
        if all_events(&http, &server.base).await.len() == events.len() + 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the call after the restart was not recorded");
}
