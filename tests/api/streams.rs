//! Streams read right: a stream's end is its last event, not a word in its text; a terminator
//! split over any reads, and lines ended by CR, LF or CRLF, are read as the SSE rules say; an
//! event stream is known by its media type in any case; an error the upstream sends before
//! any content fails over; compressed upstream answers reach the client decoded.

use std::io::Write;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};
use crate::raw::scripted;
use crate::upstream::Mock;

const ROLE: &[u8] = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n";
const HELLO: &[u8] = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n";
const DONE: &[u8] = b"data: [DONE]\n\n";
const MESSAGE_START: &[u8] =
    b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n";
const MESSAGE_STOP: &[u8] = b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
const OVERLOADED: &[u8] = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";

/// An Anthropic text delta saying `text`.
fn delta(text: &str) -> Vec<u8> {
    let data = json!({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "text_delta", "text": text}});
    format!("event: content_block_delta\ndata: {data}\n\n").into_bytes()
}

/// An OpenAI chat chunk saying `text`.
fn chunk(text: &str) -> Vec<u8> {
    let data = json!({"choices": [{"index": 0, "delta": {"content": text}}]});
    format!("data: {data}\n\n").into_bytes()
}

fn with_line_ends(bytes: &[u8], end: &str) -> Vec<u8> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .replace('\n', end)
        .into_bytes()
}

/// Provider `slug` serving model `m`, in the Anthropic format or OpenAI's.
fn provider(slug: &str, base_url: &str, anthropic: bool) -> Value {
    let surfaces = match anthropic {
        true => json!([{"format": "anthropic", "surface": "messages"}]),
        false => json!(null),
    };
    json!({"providerId": slug, "name": slug, "baseUrl": base_url,
           "models": [{"modelId": "m"}], "supportedApiSurfaces": surfaces})
}

/// Two providers of model `tag`, `first-{tag}` tried first.
async fn two(app: &TestApp, tag: &str, anthropic: bool) -> (Mock, Mock) {
    let (first, second) = (Mock::start().await, Mock::start().await);
    for (slug, mock) in [("first", &first), ("second", &second)] {
        let mut body = provider(&format!("{slug}-{tag}"), &mock.base, anthropic);
        body["models"] = json!([{"modelId": tag}]);
        app.create(&body).await;
    }
    (first, second)
}

/// A streamed call for `model`: a chat completion, or an Anthropic message.
async fn stream(app: &TestApp, model: &str, anthropic: bool) -> reqwest::Response {
    let path = if anthropic {
        "/v1/messages"
    } else {
        "/v1/chat/completions"
    };
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"model": model, "stream": true, "max_tokens": 8,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
}

fn provider_of(res: &reqwest::Response) -> &str {
    res.headers()["x-modelgate-provider"].to_str().unwrap()
}

/// The next `n` bytes of `body` (more if a read brings more).
async fn read(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin),
    n: usize,
) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        got.extend_from_slice(&body.next().await.unwrap().unwrap());
    }
    got
}

/// Sends `events` one by one, each only once the client has read the one before, so that each
/// is a read of its own at the gateway; then ends the stream and answers what followed.
async fn sent_one_read_at_a_time(
    feed: tokio::sync::mpsc::UnboundedSender<Bytes>,
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin),
    events: &[&[u8]],
) -> Vec<u8> {
    for event in events {
        feed.send(Bytes::copy_from_slice(event)).unwrap();
        assert_eq!(&read(body, event.len()).await, event);
    }
    drop(feed);
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    rest
}

#[actix_web::test]
async fn text_that_mentions_an_ending_does_not_end_a_stream_that_was_cut() {
    let app = spawn_app().await;
    for (tag, anthropic) in [("o", false), ("a", true)] {
        let (first, _second) = two(&app, tag, anthropic).await;
        let (feed, _gone) = first.then_stream();
        let words = "say [DONE], message_stop, response.completed and \"error\": at will";
        let (opening, content) = match anthropic {
            true => (MESSAGE_START, delta(words)),
            false => (ROLE, chunk(words)),
        };
        feed.send(Bytes::from_static(opening)).unwrap();
        feed.send(Bytes::from(content.clone())).unwrap();
        let res = stream(&app, tag, anthropic).await;
        assert_eq!(res.status(), 200);
        let mut body = res.bytes_stream();
        let got = read(&mut body, opening.len() + content.len()).await;
        assert_eq!(got, [opening, &content[..]].concat());
        // Cut there.
        let rest = sent_one_read_at_a_time(feed, &mut body, &[]).await;
        let rest = String::from_utf8(rest).unwrap();
        // Anthropic's error shape has no code; its message says what happened.
        let (shape, says) = match anthropic {
            true => ("event: error\ndata: {", "stopped before its end"),
            false => ("data: {\"error\":", "stream_ended_early"),
        };
        assert!(rest.starts_with(shape) && rest.contains(says), "{rest}");
    }
}

#[actix_web::test]
async fn an_ending_split_over_three_or_more_reads_ends_the_stream_cleanly() {
    let app = spawn_app().await;
    for (anthropic, opening, ending) in [
        (false, HELLO, &[&b"data: [DO"[..], b"NE", b"]", b"\n\n"][..]),
        (
            true,
            MESSAGE_START,
            &[
                b"event: mess",
                b"age_st",
                b"op\ndata: {\"type\":\"mess",
                b"age_stop\"}\n",
                b"\n",
            ],
        ),
    ] {
        let mock = Mock::start().await;
        let slug = if anthropic { "split-a" } else { "split-o" };
        app.create(&provider(slug, &mock.base, anthropic)).await;
        let (feed, _gone) = mock.then_stream();
        let content = if anthropic { delta("Hi") } else { chunk("Hi") };
        feed.send(Bytes::copy_from_slice(opening)).unwrap();
        feed.send(Bytes::from(content.clone())).unwrap();
        let res = stream(&app, &format!("{slug}:m"), anthropic).await;
        assert_eq!(res.status(), 200);
        let mut body = res.bytes_stream();
        read(&mut body, opening.len() + content.len()).await;
        let rest = sent_one_read_at_a_time(feed, &mut body, ending).await;
        assert_eq!(
            String::from_utf8(rest).unwrap(),
            "",
            "a complete stream gets no error event"
        );
    }
}

#[actix_web::test]
async fn a_complete_answer_in_cr_or_crlf_lines_is_the_clients_and_nothing_else_is_called() {
    let app = spawn_app().await;
    let (first, second) = two(&app, "o", false).await;
    for end in ["\r", "\r\n"] {
        let answer = with_line_ends(&[ROLE, HELLO, DONE].concat(), end);
        let (feed, _gone) = first.then_stream();
        for event in [ROLE, HELLO, DONE] {
            feed.send(Bytes::from(with_line_ends(event, end))).unwrap();
        }
        drop(feed);
        let res = stream(&app, "o", false).await;
        assert_eq!(res.status(), 200, "{end:?}");
        assert_eq!(provider_of(&res), "first-o");
        let body = res.bytes().await.unwrap();
        assert_eq!(
            &body[..],
            &answer[..],
            "{end:?}: as sent, with no error event"
        );
    }
    assert_eq!(
        second.seen().len(),
        0,
        "the second provider was never called"
    );
}

#[actix_web::test]
async fn an_error_the_upstream_streams_before_any_content_fails_over() {
    let app = spawn_app().await;
    // Anthropic's overloaded_error event after message_start.
    let (first, second) = two(&app, "a", true).await;
    let (feed, _gone) = first.then_stream();
    feed.send(Bytes::from_static(MESSAGE_START)).unwrap();
    feed.send(Bytes::from_static(OVERLOADED)).unwrap();
    let (later, _) = second.then_stream();
    let answer = [MESSAGE_START, &delta("Hi"), MESSAGE_STOP].concat();
    later.send(Bytes::from(answer.clone())).unwrap();
    drop(later);
    let res = stream(&app, "a", true).await;
    assert_eq!(res.status(), 200);
    assert_eq!(provider_of(&res), "second-a");
    assert_eq!(&res.bytes().await.unwrap()[..], &answer[..]);

    // With no other provider, the client hears a 502 in its format's shape.
    let (feed, _gone) = first.then_stream();
    feed.send(Bytes::from_static(OVERLOADED)).unwrap();
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-modelgate-fallback", "off")
        .json(&json!({"model": "a", "stream": true, "max_tokens": 8,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "api_error", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("sent an error"), "{message}");

    // OpenAI's error object as a stream's first event.
    let (first, second) = two(&app, "o", false).await;
    let (feed, _gone) = first.then_stream();
    feed.send(Bytes::from_static(
        b"data: {\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}\n\n",
    ))
    .unwrap();
    let (later, _) = second.then_stream();
    later
        .send(Bytes::from([ROLE, HELLO, DONE].concat()))
        .unwrap();
    drop(later);
    let res = stream(&app, "o", false).await;
    assert_eq!(res.status(), 200);
    assert_eq!(provider_of(&res), "second-o");
    assert_eq!(
        &res.bytes().await.unwrap()[..],
        &[ROLE, HELLO, DONE].concat()[..]
    );
}

fn answer(head: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = b"HTTP/1.1 200 OK\r\nconnection: close\r\n".to_vec();
    for (name, value) in head {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// A client that decodes nothing, so what it reads is what the gateway sent.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .build()
        .unwrap()
}

#[actix_web::test]
async fn an_event_stream_is_known_by_its_media_type_in_any_case() {
    let app = spawn_app().await;
    for (i, media_type) in ["Text/Event-Stream", "TEXT/EVENT-STREAM; charset=utf-8"]
        .into_iter()
        .enumerate()
    {
        // Cut after its content: the client must be told, as for any stream.
        let cut = answer(&[("content-type", media_type)], &[ROLE, HELLO].concat());
        // An error before content: it fails like any stream's.
        let failed = answer(
            &[("content-type", media_type)],
            b"data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
        );
        let base = scripted(vec![cut, failed]).await;
        let slug = format!("cased-{i}");
        app.create(&provider(&slug, &base, false)).await;
        let res = stream(&app, &format!("{slug}:m"), false).await;
        assert_eq!(res.status(), 200, "{media_type}");
        let body = String::from_utf8(res.bytes().await.unwrap().to_vec()).unwrap();
        let sent = String::from_utf8([ROLE, HELLO].concat()).unwrap();
        assert!(
            body.starts_with(&sent) && body[sent.len()..].contains("stream_ended_early"),
            "{media_type}: {body}"
        );
        let res = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"model": format!("{slug}:m"), "stream": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 502, "{media_type}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upstream_stream_error", "{body}");
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[actix_web::test]
async fn compressed_upstream_answers_reach_the_client_decoded() {
    let app = spawn_app().await;
    let client = plain_client();
    let json_answer = br#"{"id":"c-1","object":"chat.completion","choices":[]}"#;
    let events = [ROLE, HELLO, DONE].concat();
    for (i, (coding, encode)) in [("gzip", gzip as fn(&[u8]) -> Vec<u8>), ("deflate", deflate)]
        .into_iter()
        .enumerate()
    {
        let packed = encode(json_answer);
        let length = packed.len().to_string();
        let whole = answer(
            &[
                ("content-type", "application/json"),
                ("content-encoding", coding),
                ("content-length", &length),
            ],
            &packed,
        );
        let streamed = answer(
            &[
                ("content-type", "text/event-stream"),
                ("content-encoding", coding),
            ],
            &encode(&events),
        );
        let base = scripted(vec![whole, streamed]).await;
        let slug = format!("packed-{i}");
        app.create(&provider(&slug, &base, false)).await;

        let res = client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"model": format!("{slug}:m"), "messages": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{coding}");
        assert_eq!(res.headers()["content-type"], "application/json");
        assert!(res.headers().get("content-encoding").is_none());
        assert_eq!(&res.bytes().await.unwrap()[..], json_answer, "{coding}");

        let res = client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"model": format!("{slug}:m"), "stream": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{coding}");
        assert!(res.headers().get("content-encoding").is_none());
        assert_eq!(&res.bytes().await.unwrap()[..], &events[..], "{coding}");
    }

    // The upstream is told which encodings the gateway decodes; an operator cannot say
    // otherwise.
    let mock = Mock::start().await;
    app.create(&provider("plain", &mock.base, false)).await;
    let res = client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"model": "plain:m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let offered = &mock.last().headers["accept-encoding"];
    for coding in ["gzip", "br", "deflate", "zstd"] {
        assert!(offered.contains(coding), "{offered}");
    }
    let mut refused = provider("picky", &mock.base, false);
    refused["network"] = json!({"extraHeaders": {"Accept-Encoding": "identity"}});
    let res = app.post_json("/providers", &refused).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["details"]["network.extraHeaders.Accept-Encoding"].is_string(),
        "{body}"
    );
}
