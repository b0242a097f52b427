//! What the log holds: one line per request, never a token or a body, and nothing anyone can
//! provoke at the error level.

use std::io::Write;

use serde_json::json;

use crate::harness::{Server, TOKEN, client};

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
