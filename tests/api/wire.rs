//! What goes on the wire: an upstream status that is no final HTTP answer (101, 999) is never
//! relayed but fails over and ends as 502 `upstream_invalid`.

use serde_json::{Value, json};

use crate::helpers::data_plane::{anthropic_error, call, chat, header, openai_error, registered};
use crate::helpers::spawn_app;
use crate::raw::scripted;
use crate::upstream::Mock;

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
