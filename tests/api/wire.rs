//! What goes on the wire, read as raw bytes: an upstream status that is no final HTTP answer
//! (101, 999) is never relayed but fails over and ends as 502 `upstream_invalid`; a 204 or 304
//! goes with its head alone; an HTTP/1.0 caller never gets chunked, but a `Content-Length` or a
//! body that ends with the connection.

use std::time::Duration;

use bytes::Bytes;
use modelgate::http::proxy::framing::HTTP10_BUFFERED_BYTES;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::data_plane::{
    CONTENT_CHUNK, anthropic_error, call, chat, header, openai_error, registered,
};
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};
use crate::raw::scripted;
use crate::upstream::{Mock, Reply};

const JSON_ANSWER: &str = r#"{"id":"raw-1","object":"chat.completion","choices":[]}"#;

fn both_formats() -> Value {
    json!([{"format": "openai"}, {"format": "anthropic"}])
}

/// A raw answer: a status line's code and words, extra head lines, and a body sent as it is.
fn raw(status: &str, head: &[&str], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for line in head {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// A whole JSON answer with its length.
fn json_answer() -> Vec<u8> {
    let length = format!("content-length: {}", JSON_ANSWER.len());
    raw(
        "200 OK",
        &["content-type: application/json", &length],
        JSON_ANSWER,
    )
}

/// A request as a raw client writes it: `version` is `HTTP/1.0` or `HTTP/1.1`, `extra` more
/// head lines (each ending in CRLF).
fn request(method: &str, path: &str, version: &str, body: Option<&Value>, extra: &str) -> Vec<u8> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut out = format!(
        "{method} {path} {version}\r\nhost: 127.0.0.1\r\nauthorization: Bearer {ADMIN_TOKEN}\r\n{extra}"
    );
    if !body.is_empty() {
        out.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends on a fresh connection after `request`, to its close, within a
/// bound that only a broken build reaches (a server that keeps the connection open).
async fn exchange(app: &TestApp, request: &[u8]) -> (String, Vec<u8>) {
    let mut socket = connect(app).await;
    socket.write_all(request).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut got))
        .await
        .expect("the server closed the connection after its answer")
        .unwrap();
    split(&got)
}

/// The head (lower-cased) and what follows it.
fn split(got: &[u8]) -> (String, Vec<u8>) {
    let end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(got)));
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    (head, got[end + 4..].to_vec())
}

fn length(head: &str) -> Option<usize> {
    head.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
}

/// One answer read off a kept connection: its head, then as many bytes as its length says.
async fn answer_on(socket: &mut TcpStream) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let n = length(&head).unwrap_or_else(|| panic!("no length in {head}"));
            if got.len() >= end + 4 + n {
                return (head, got[end + 4..end + 4 + n].to_vec());
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(20), socket.read(&mut buf))
            .await
            .expect("the answer arrived")
            .unwrap();
        assert!(
            read > 0,
            "the connection closed: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..read]);
    }
}

#[actix_web::test]
async fn a_204_or_a_304_goes_with_its_head_and_nothing_after_it() {
    let app = spawn_app().await;
    for status in ["204 No Content", "304 Not Modified"] {
        let code = &status[..3];
        let base = scripted(vec![raw(status, &["connection: close"], "")]).await;
        let slug = format!("bodiless-{code}");
        app.create(&registered(&slug, &base, &["m"], Value::Null))
            .await;
        let body = chat(&format!("{slug}:m"));
        let sent = request(
            "POST",
            "/v1/chat/completions",
            "HTTP/1.1",
            Some(&body),
            "connection: close\r\n",
        );
        let (head, rest) = exchange(&app, &sent).await;
        assert!(head.starts_with(&format!("http/1.1 {code}")), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        // Not even the chunked terminator `0\r\n\r\n`, which a client reads as the next answer.
        assert_eq!(String::from_utf8_lossy(&rest), "", "{code}");
    }
}

#[actix_web::test]
async fn a_status_that_is_no_final_answer_is_502_upstream_invalid_in_each_format() {
    let app = spawn_app().await;
    let upgrade = ["upgrade: websocket", "connection: upgrade"];
    for (code, status, head) in [
        (101, "101 Switching Protocols", &upgrade[..]),
        (999, "999 Odd", &["content-length: 0"][..]),
    ] {
        let base = scripted(vec![raw(status, head, ""), raw(status, head, "")]).await;
        let slug = format!("odd-{code}");
        app.create(&registered(&slug, &base, &["m"], both_formats()))
            .await;
        let res = call(&app, "/v1/chat/completions", chat(&format!("{slug}:m"))).await;
        assert_eq!(header(&res, "x-modelgate-provider"), slug);
        let error = openai_error(res, 502, "upstream_invalid").await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(&format!("status {code}")), "{message}");
        let res = call(&app, "/v1/messages", chat(&format!("{slug}:m"))).await;
        let error = anthropic_error(res, 502, "api_error").await;
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains(&code.to_string())
        );
    }
}

#[actix_web::test]
async fn a_status_that_is_no_final_answer_fails_over_like_a_broken_answer() {
    let app = spawn_app().await;
    let odd = scripted(vec![raw("999 Odd", &["content-length: 0"], "")]).await;
    let fine = Mock::start().await;
    app.create(&registered("odd", &odd, &["m"], Value::Null))
        .await;
    app.create(&registered("fine", &fine.base, &["m"], Value::Null))
        .await;
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-modelgate-provider"), "fine");
    assert_eq!(header(&res, "x-modelgate-fallbacks"), "1");

    // Every candidate answering so: that failure, each attempt with its status.
    let upgrade = raw("101 Switching Protocols", &["upgrade: h2c"], "");
    let (a, b) = (
        scripted(vec![upgrade]).await,
        scripted(vec![raw("999 Odd", &[], "")]).await,
    );
    app.create(&registered("odd-a", &a, &["n"], Value::Null))
        .await;
    app.create(&registered("odd-b", &b, &["n"], Value::Null))
        .await;
    let res = call(&app, "/v1/chat/completions", chat("n")).await;
    let error = openai_error(res, 502, "upstream_invalid").await;
    let attempts = error["attempts"].as_array().unwrap();
    let seen: Vec<_> = attempts
        .iter()
        .map(|a| (a["status"].clone(), a["error"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (json!(101), json!("upstream_invalid")),
            (json!(999), json!("upstream_invalid"))
        ]
    );
}

/// hyper reads past interim 1xx answers to the final one, as HTTP asks: none reaches the
/// caller, and one that is never followed is a connection that ended without an answer.
#[actix_web::test]
async fn an_interim_answer_is_never_relayed() {
    let app = spawn_app().await;
    let mut hinted = raw("103 Early Hints", &["link: </style.css>; rel=preload"], "");
    hinted.extend_from_slice(&json_answer());
    let base = scripted(vec![hinted]).await;
    app.create(&registered("hinted", &base, &["m"], Value::Null))
        .await;
    let res = call(&app, "/v1/chat/completions", chat("hinted:m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), JSON_ANSWER);

    let base = scripted(vec![raw("100 Continue", &[], "")]).await;
    app.create(&registered("continued", &base, &["m"], Value::Null))
        .await;
    let res = call(&app, "/v1/chat/completions", chat("continued:m")).await;
    openai_error(res, 502, "upstream_unreachable").await;
}

#[actix_web::test]
async fn an_http10_caller_gets_a_whole_answer_with_its_length_on_a_kept_connection() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("one", &mock.base, &["m"], Value::Null))
        .await;
    let body = chat("one:m");
    let sent = request(
        "POST",
        "/v1/chat/completions",
        "HTTP/1.0",
        Some(&body),
        "connection: keep-alive\r\n",
    );
    let mut socket = connect(&app).await;
    for _ in 0..2 {
        socket.write_all(&sent).await.unwrap();
        let (head, body) = answer_on(&mut socket).await;
        assert!(head.starts_with("http/1.0 200"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["id"], "mock-1");
    }

    // The routes that answer whole already: the model list, an error.
    for (method, path) in [("GET", "/v1/models"), ("GET", "/v1/chat/completions")] {
        let (head, body) = exchange(&app, &request(method, path, "HTTP/1.0", None, "")).await;
        assert!(!head.contains("transfer-encoding"), "{path}: {head}");
        assert_eq!(length(&head), Some(body.len()), "{path}: {head}");
    }
}

#[actix_web::test]
async fn an_http10_caller_gets_a_stream_delimited_by_the_connections_close() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("streams", &mock.base, &["m"], Value::Null))
        .await;
    let (events, _gone) = mock.then_stream();
    let done = Bytes::from_static(b"data: [DONE]\n\n");
    for event in [Bytes::from_static(CONTENT_CHUNK), done.clone()] {
        events.send(event).unwrap();
    }
    drop(events);
    let body = json!({"model": "streams:m", "stream": true, "messages": []});
    // Asked to keep the connection, the server still closes it: that is where the body ends.
    let sent = request(
        "POST",
        "/v1/chat/completions",
        "HTTP/1.0",
        Some(&body),
        "connection: keep-alive\r\n",
    );
    let (head, rest) = exchange(&app, &sent).await;
    assert!(head.starts_with("http/1.0 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(
        !head.contains("transfer-encoding") && length(&head).is_none(),
        "{head}"
    );
    assert_eq!(rest, [CONTENT_CHUNK, &done[..]].concat());
}

#[actix_web::test]
async fn an_http10_caller_gets_an_answer_past_the_bound_delimited_by_the_close() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("big", &mock.base, &["m"], Value::Null))
        .await;
    let pad = "x".repeat(HTTP10_BUFFERED_BYTES);
    mock.then(Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"pad": pad}),
    });
    let sent = request(
        "POST",
        "/v1/chat/completions",
        "HTTP/1.0",
        Some(&chat("big:m")),
        "connection: keep-alive\r\n",
    );
    let (head, rest) = exchange(&app, &sent).await;
    assert!(head.starts_with("http/1.0 200"), "{head}");
    assert!(
        !head.contains("transfer-encoding") && length(&head).is_none(),
        "{head}"
    );
    let body: Value = serde_json::from_slice(&rest).unwrap();
    assert_eq!(
        body["pad"].as_str().map(str::len),
        Some(HTTP10_BUFFERED_BYTES)
    );
}

#[actix_web::test]
async fn an_http10_caller_whose_answer_breaks_while_held_is_told_502() {
    let app = spawn_app().await;
    let cut = raw(
        "200 OK",
        &["content-type: application/json", "content-length: 100"],
        r#"{"id":"#,
    );
    let base = scripted(vec![cut]).await;
    app.create(&registered("cut", &base, &["m"], Value::Null))
        .await;
    let sent = request(
        "POST",
        "/v1/chat/completions",
        "HTTP/1.0",
        Some(&chat("cut:m")),
        "",
    );
    let (head, rest) = exchange(&app, &sent).await;
    assert!(head.starts_with("http/1.0 502"), "{head}");
    assert_eq!(length(&head), Some(rest.len()), "{head}");
    let body: Value = serde_json::from_slice(&rest).unwrap();
    assert_eq!(body["error"]["code"], "upstream_unreachable", "{body}");
}
