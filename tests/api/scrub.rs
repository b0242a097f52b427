//! A provider key never reaches the client: an upstream that echoes the key it was called with
//! — in an error's body, in a rate-limit header, in a whole answer, in a stream with the key
//! cut across reads — is passed on with `********` where the key was. Nor does a credential
//! header's value (`network.extraHeaders`, sealed at rest), echoed the same ways.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::data_plane::{add_key, call, chat, registered};
use crate::helpers::{TestApp, spawn_app};

/// Where the raw upstream writes the key it was called with.
const KEY: &str = "{KEY}";
/// Where it writes the `x-auth-token` header it was called with.
const TOKEN: &str = "{TOKEN}";

/// One answer of the raw upstream: its status, headers and body pieces, each `{KEY}` in them
/// replaced by the key of the request it answers (each `{TOKEN}` by its `x-auth-token`).
struct Echo {
    status: u16,
    headers: Vec<(&'static str, String)>,
    pieces: Vec<String>,
}

/// An upstream on a raw socket that answers each connection with the next of `answers`, the
/// body in chunked encoding, one chunk per piece, written and flushed one at a time. The
/// gateway's HTTP client hands on each chunk's data as a read of its own (a read may end inside
/// a chunk, never span two), so a key cut across pieces reaches the gateway cut.
async fn echoing(answers: Vec<Echo>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    actix_web::rt::spawn(async move {
        for answer in answers {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (key, token) = credential(&mut socket).await;
            let fill = |s: &str| s.replace(KEY, &key).replace(TOKEN, &token);
            let mut head = format!(
                "HTTP/1.1 {} Echo\r\nconnection: close\r\ntransfer-encoding: chunked\r\n",
                answer.status
            );
            for (name, value) in &answer.headers {
                head.push_str(&format!("{name}: {}\r\n", fill(value)));
            }
            head.push_str("\r\n");
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.flush().await.unwrap();
            for piece in &answer.pieces {
                let piece = fill(piece);
                let chunk = format!("{:x}\r\n{piece}\r\n", piece.len());
                socket.write_all(chunk.as_bytes()).await.unwrap();
                socket.flush().await.unwrap();
            }
            socket.write_all(b"0\r\n\r\n").await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    base
}

/// Reads a request whole and answers the key it carries, from either format's header, and its
/// `x-auth-token` (empty without one).
async fn credential(socket: &mut tokio::net::TcpStream) -> (String, String) {
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
    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
    let value = |name: &str| {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let length: usize = value("content-length").map_or(0, |v| v.parse().unwrap());
    while request.len() < head_end + length {
        let n = socket.read(&mut buf).await.unwrap();
        request.extend_from_slice(&buf[..n]);
    }
    let key = match value("authorization") {
        Some(bearer) => bearer.strip_prefix("Bearer ").unwrap().to_owned(),
        None => value("x-api-key").expect("a key in the request"),
    };
    (key, value("x-auth-token").unwrap_or_default())
}

/// A provider `slug` at `base` speaking OpenAI's and Anthropic's formats, with one key.
async fn provider(app: &TestApp, slug: &str, base: &str, key: &str) {
    let surfaces = json!([{"format": "openai"}, {"format": "anthropic"}]);
    app.create(&registered(slug, base, &[], surfaces)).await;
    add_key(app, slug, key).await;
}

/// Everything the client received: status line's code, headers and body, as one text.
async fn received(res: reqwest::Response) -> (u16, String, String) {
    let status = res.status().as_u16();
    let headers = format!("{:?}", res.headers());
    let body = String::from_utf8(res.bytes().await.unwrap().to_vec()).unwrap();
    (status, headers, body)
}

#[actix_web::test]
async fn an_error_answer_is_passed_on_without_the_key_in_its_body_or_headers() {
    let app = spawn_app().await;
    let key = "sk-scrub-error-0123456789abcdef";
    let body = format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}."}}}}"#);
    let base = echoing(vec![
        Echo {
            status: 401,
            headers: vec![("content-type", "application/json".into())],
            pieces: vec![body],
        },
        Echo {
            status: 429,
            headers: vec![
                ("content-type", "application/json".into()),
                ("x-ratelimit-remaining-requests", format!("0 for {KEY}")),
                ("anthropic-ratelimit-requests-reset", KEY.into()),
                ("retry-after", "0".into()),
            ],
            pieces: vec![format!(
                r#"{{"type":"error","error":{{"type":"rate_limit_error","message":"{KEY}{KEY} is limited"}}}}"#
            )],
        },
    ])
    .await;
    provider(&app, "echo", &base, key).await;

    let (status, headers, body) =
        received(call(&app, "/v1/chat/completions", chat("echo:m")).await).await;
    assert_eq!(status, 401);
    assert!(
        !body.contains(key) && !headers.contains(key),
        "{headers}\n{body}"
    );
    assert!(
        body.contains("Incorrect API key provided: ********."),
        "{body}"
    );

    let anthropic = json!({"model": "echo:m", "max_tokens": 8, "messages": []});
    let res = call(&app, "/v1/messages", anthropic).await;
    assert_eq!(
        res.headers()["x-ratelimit-remaining-requests"],
        "0 for ********"
    );
    assert_eq!(
        res.headers()["anthropic-ratelimit-requests-reset"],
        "********"
    );
    let (status, headers, body) = received(res).await;
    assert_eq!(status, 429);
    assert!(
        !body.contains(key) && !headers.contains(key),
        "{headers}\n{body}"
    );
    assert!(body.contains("\"**************** is limited\""), "{body}");
}

#[actix_web::test]
async fn a_whole_answer_is_passed_on_without_the_key_wherever_it_was_cut() {
    let app = spawn_app().await;
    let key = "sk-scrub-whole-0123456789abcdef";
    let (head, tail) = (&key[..10], &key[10..]);
    // The key at the start, whole in a piece, and cut over two pieces.
    let base = echoing(vec![Echo {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        pieces: vec![
            format!(r#"{{"id":"{KEY}","choices":[{{"message":{{"content":"{KEY} and "#),
            format!("then {head}"),
            format!(r#"{tail}"}}}}]}}"#),
        ],
    }])
    .await;
    provider(&app, "whole", &base, key).await;
    let (status, headers, body) =
        received(call(&app, "/v1/chat/completions", chat("whole:m")).await).await;
    assert_eq!(status, 200);
    assert!(!body.contains(key) && !headers.contains(key), "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], "********");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "******** and then ********"
    );
}

#[actix_web::test]
async fn a_stream_is_passed_on_without_the_key_even_cut_across_three_reads() {
    let app = spawn_app().await;
    let key = "sk-scrub-stream-0123456789abcdef";
    let (a, b, c) = (&key[..5], &key[5..20], &key[20..]);
    let event = |content: &str| {
        format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{content}\"}}}}]}}\n\n")
    };
    let base = echoing(vec![Echo {
        status: 200,
        headers: vec![("content-type", "text/event-stream".into())],
        pieces: vec![
            event("hello"),
            event(&format!("the key is {a}"))
                .strip_suffix("\"}}]}\n\n")
                .unwrap()
                .to_owned(),
            b.to_owned(),
            format!("{c}, and {KEY}\"}}}}]}}\n\ndata: [DONE]\n\n"),
        ],
    }])
    .await;
    provider(&app, "streams", &base, key).await;
    let mut body = chat("streams:m");
    body["stream"] = json!(true);
    let (status, headers, body) = received(call(&app, "/v1/chat/completions", body).await).await;
    assert_eq!(status, 200);
    assert!(!body.contains(key) && !headers.contains(key), "{body}");
    for part in [a, b, c] {
        assert!(
            !body.contains(part),
            "a part of the key, `{part}`, came through:\n{body}"
        );
    }
    assert_eq!(
        body,
        format!(
            "{}{}data: [DONE]\n\n",
            event("hello"),
            event("the key is ********, and ********")
        )
    );
}

/// An `env.NAME` key is scrubbed as its value, which the gateway reads from its environment
/// (`PATH`: set in every test run, and no test may change the environment).
#[actix_web::test]
async fn an_env_key_is_scrubbed_as_its_value() {
    let app = spawn_app().await;
    let value = std::env::var("PATH").unwrap();
    let base = echoing(vec![Echo {
        status: 400,
        headers: vec![
            ("content-type", "application/json".into()),
            ("x-ratelimit-limit-tokens", KEY.into()),
        ],
        pieces: vec![format!(r#"{{"error":{{"message":"bad key {KEY}"}}}}"#)],
    }])
    .await;
    provider(&app, "envy", &base, "env.PATH").await;
    let (status, headers, body) =
        received(call(&app, "/v1/chat/completions", chat("envy:m")).await).await;
    assert_eq!(status, 400);
    assert!(
        !body.contains(&value) && !headers.contains(&value),
        "{headers}\n{body}"
    );
    assert!(body.contains("bad key ********"), "{body}");
}

/// A credential header sealed in the provider's settings is opened for the call and sent; an
/// upstream that echoes it — in a header, in a stream cut across reads, next to the key — is
/// passed on with `********` where it was.
#[actix_web::test]
async fn a_credential_headers_value_is_scrubbed_like_the_key() {
    let app = spawn_app().await;
    let key = "sk-scrub-both-0123456789abcdef";
    let token = "tok-scrub-header-9f8e7d6c5b4a";
    let (a, b, c) = (&token[..6], &token[6..18], &token[18..]);
    let event = |content: &str| {
        format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{content}\"}}}}]}}\n\n")
    };
    let base = echoing(vec![Echo {
        status: 200,
        headers: vec![
            ("content-type", "text/event-stream".into()),
            ("x-ratelimit-limit-requests", format!("10 for {TOKEN}")),
        ],
        pieces: vec![
            event("hello"),
            event(&format!("your token is {a}"))
                .strip_suffix("\"}}]}\n\n")
                .unwrap()
                .to_owned(),
            b.to_owned(),
            format!("{c}, key {KEY}{TOKEN}\"}}}}]}}\n\ndata: [DONE]\n\n"),
        ],
    }])
    .await;
    let surfaces = json!([{"format": "openai"}]);
    let mut provider = registered("tokened", &base, &[], surfaces);
    provider["network"] = json!({"extraHeaders": {"x-auth-token": token}});
    app.create(&provider).await;
    add_key(&app, "tokened", key).await;
    let mut body = chat("tokened:m");
    body["stream"] = json!(true);
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(
        res.headers()["x-ratelimit-limit-requests"],
        "10 for ********"
    );
    let (status, headers, body) = received(res).await;
    assert_eq!(status, 200);
    for secret in [key, token, a, b, c] {
        assert!(
            !body.contains(secret) && !headers.contains(secret),
            "`{secret}` came through:\n{headers}\n{body}"
        );
    }
    assert_eq!(
        body,
        format!(
            "{}{}data: [DONE]\n\n",
            event("hello"),
            event("your token is ********, key ****************")
        )
    );
}
