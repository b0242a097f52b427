//! What the log holds: one line per request, never a token or a body, and nothing anyone can
//! provoke at the error level.

use std::io::Write;

use serde_json::json;

use crate::harness::{Server, TOKEN, client, send};

#[tokio::test]
async fn logs_hold_one_line_per_request_and_never_a_token_or_a_body() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &data,
        &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", "debug")],
    );
    let marker = "body-marker-7f3a";
    let http = client();
    let res = http
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"providerId": "logged", "name": marker, "baseUrl": "http://x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .get(format!("{}/providers?limit=5", server.base))
        .bearer_auth("wrong-token-wrong-token-xyz")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = http
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{marker}\", oops"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (_, log) = server.terminate();
    for secret in [
        TOKEN,
        "wrong-token-wrong-token-xyz",
        marker,
        "Bearer",
        "authorization",
    ] {
        assert!(!log.contains(secret), "log leaks `{secret}`:\n{log}");
    }
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("INFO  actix_web::middleware::logger]"))
        .collect();
    assert_eq!(access.len(), 3, "{log}");
    assert!(
        access[0].contains("\"POST /providers\" 201"),
        "{}",
        access[0]
    );
    assert!(
        access[1].contains("\"GET /providers\" 401"),
        "{}",
        access[1]
    );
}

/// Requests too broken for actix to parse (a malformed Content-Length, a target past its own
/// limit) are refused before any route runs. Anyone can send them, so they must not reach the
/// error log: at the default level they are not logged at all, at debug they are.
#[test]
fn requests_too_broken_to_parse_never_reach_the_error_log() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    for (level, shown) in [("info", false), ("debug", true)] {
        let data = dir.path().join(level);
        let server = Server::start(
            &data,
            &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", level)],
        );
        let addr = server.base.trim_start_matches("http://").to_owned();
        let long_target = format!(
            "GET /providers?{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a=1&".repeat(20_000)
        );
        for raw in [
            "POST /providers HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_owned(),
            "POST /providers HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned(),
            long_target,
        ] {
            for _ in 0..5 {
                let mut conn = std::net::TcpStream::connect(&addr).unwrap();
                conn.write_all(raw.as_bytes()).unwrap();
                let mut answer = String::new();
                let _ = conn.read_to_string(&mut answer);
                assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
            }
        }
        let (_, log) = server.terminate();
        assert!(!log.contains(" ERROR "), "{log}");
        assert_eq!(log.contains("request parse error"), shown, "{level}: {log}");
    }
}

/// Every line one model call logs names its request id: the access line, the call's own line
/// (whose latency and attempt count stand in their places) and each attempt's lines, with the
/// attempt's number.
#[tokio::test]
async fn every_line_of_a_call_carries_its_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", "debug")],
    );
    let http = client();
    for slug in ["dead-one", "dead-two"] {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/v1", closed.local_addr().unwrap());
        drop(closed);
        let res = http
            .post(format!("{}/providers", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({"providerId": slug, "name": slug, "baseUrl": base,
                          "models": [{"modelId": "m"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let res = http
        .post(format!("{}/v1/chat/completions", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let id = res.headers()["x-modelgate-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (_, log) = server.terminate();
    let call: Vec<&str> = log.lines().filter(|l| l.contains(&id)).collect();
    let access = call
        .iter()
        .find(|l| l.contains("actix_web::middleware::logger"))
        .unwrap_or_else(|| panic!("no access line for {id}:\n{log}"));
    assert!(
        access.contains("\"POST /v1/chat/completions\" 502"),
        "{access}"
    );
    let own = call
        .iter()
        .find(|l| l.contains("modelgate::proxy") && l.contains("status=502"))
        .unwrap_or_else(|| panic!("no call line for {id}:\n{log}"));
    let latency = regex::Regex::new(r"status=502 \d+\.\dms streamed=false attempts=2").unwrap();
    assert!(latency.is_match(own), "{own}");
    for attempt in [1, 2] {
        assert!(
            call.iter().any(|l| l.contains("unreachable")
                && l.contains(&format!("request_id={id}"))
                && l.contains(&format!("attempt={attempt}"))),
            "no line of attempt {attempt} names {id}:\n{log}"
        );
    }
}

/// A key the upstream refuses or rate-limits rests, and its rest is logged once, at warn, by
/// the key's id and name with the call's request id and attempt; never by its value. A call
/// that finds the key resting (and tries it anyway, as the only key) logs no second rest.
#[tokio::test]
async fn a_resting_key_is_logged_once_by_its_id_and_name() {
    let refused = "sk-refused-value-0123456789";
    let limited = "sk-limited-value-0123456789";
    let upstream = refusing(4).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", "info")],
    );
    let http = client();
    let mut keys = Vec::new();
    for (slug, name, value) in [
        ("refusing", "primary", refused),
        ("limiting", "spare", limited),
    ] {
        let (status, _) = send(http.post(format!("{}/providers", server.base)).json(
            &json!({"providerId": slug, "name": slug, "baseUrl": upstream,
                    "models": [{"modelId": "m"}]}),
        ))
        .await;
        assert_eq!(status, 201);
        let (status, key) = send(
            http.post(format!("{}/provider-keys", server.base))
                .json(&json!({"providerId": slug, "name": name, "value": value})),
        )
        .await;
        assert_eq!(status, 201, "{key}");
        keys.push(key["id"].as_str().unwrap().to_owned());
    }
    let mut ids = Vec::new();
    for (model, status) in [
        ("refusing:m", 401),
        ("refusing:m", 401),
        ("limiting:m", 429),
        ("limiting:m", 429),
    ] {
        let res = http
            .post(format!("{}/v1/chat/completions", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({"model": model, "messages": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
        ids.push(
            res.headers()["x-modelgate-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (_, log) = server.terminate();
    for secret in [refused, limited] {
        assert!(!log.contains(secret), "log leaks `{secret}`:\n{log}");
    }
    let rests: Vec<&str> = log.lines().filter(|l| l.contains(" rests for ")).collect();
    assert_eq!(rests.len(), 2, "one line per rest:\n{log}");
    for (line, (key, name, slug, time, why, id)) in rests.iter().zip([
        (
            &keys[0],
            "primary",
            "refusing",
            60,
            "refused it (401)",
            &ids[0],
        ),
        (
            &keys[1],
            "spare",
            "limiting",
            7,
            "rate-limited it (429)",
            &ids[2],
        ),
    ]) {
        let said = format!(
            "provider key {key} ({name}) of `{slug}` rests for {time}s: the upstream {why}"
        );
        assert!(
            line.contains(" WARN ") && line.contains(&said),
            "{said}\n{line}"
        );
        assert!(
            line.contains(&format!("request_id={id}")) && line.contains("attempt=1"),
            "{line}"
        );
    }
}

/// An upstream on loopback answering `calls` requests, one per connection: 401 to a key with
/// `refused` in it, 429 (retry in 7 s) to any other.
async fn refusing(calls: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for _ in 0..calls {
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
            let answer = match head.contains("refused") {
                true => "HTTP/1.1 401 Unauthorized\r\nretry-after: 1\r\n",
                false => "HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\n",
            };
            let body = r#"{"error":{"message":"no"}}"#;
            let answer = format!(
                "{answer}connection: close\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    base
}
