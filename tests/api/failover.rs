//! Failover against mock upstreams that fail on command: other providers of a bare model,
//! other keys, fallback models, each failure class, the outcomes when nothing answers, and
//! streams that break before or after their first content.

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::helpers::data_plane::{
    add_key, anthropic_error, call, chat, failing, header, openai_error, registered,
};
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};
use crate::upstream::{Mock, Reply};

/// Two providers that both declare `m`, registered in this order.
async fn two_providers(app: &TestApp) -> (Mock, Mock) {
    let (first, second) = (Mock::start().await, Mock::start().await);
    for (slug, mock) in [("first", &first), ("second", &second)] {
        app.create(&registered(slug, &mock.base, &["m"], json!(null)))
            .await;
    }
    (first, second)
}

#[actix_web::test]
async fn a_failing_provider_hands_the_call_to_the_next_that_serves_the_model() {
    let app = spawn_app().await;
    let (first, second) = two_providers(&app).await;
    for status in [500, 503, 408] {
        first.then(failing(status, vec![]));
        let res = call(&app, "/v1/chat/completions", chat("m")).await;
        assert_eq!(res.status(), 200, "after a {status}");
        assert_eq!(header(&res, "x-modelgate-provider"), "second");
        assert_eq!(
            (
                header(&res, "x-modelgate-attempts"),
                header(&res, "x-modelgate-fallbacks")
            ),
            ("2", "1")
        );
    }
    assert_eq!((first.seen().len(), second.seen().len()), (3, 3));
    // An answer from the first candidate says so too.
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(
        (
            header(&res, "x-modelgate-provider"),
            header(&res, "x-modelgate-attempts"),
            header(&res, "x-modelgate-fallbacks")
        ),
        ("first", "1", "0")
    );
}

#[actix_web::test]
async fn a_provider_that_keeps_failing_is_tried_after_the_others() {
    let app = spawn_app().await;
    let (first, second) = two_providers(&app).await;
    // Rate limits and refused requests say nothing of the provider's health.
    for _ in 0..5 {
        first.then(failing(429, vec![]));
    }
    for _ in 0..5 {
        assert_eq!(
            call(&app, "/v1/chat/completions", chat("m")).await.status(),
            200
        );
    }
    assert_eq!(first.seen().len(), 5, "still first in line");
    for _ in 0..5 {
        first.then(failing(502, vec![]));
    }
    for _ in 0..5 {
        let res = call(&app, "/v1/chat/completions", chat("m")).await;
        assert_eq!(header(&res, "x-modelgate-attempts"), "2");
    }
    // Five failures in a row: its circuit is open, so the call goes to `second` first.
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(
        (
            header(&res, "x-modelgate-provider"),
            header(&res, "x-modelgate-attempts")
        ),
        ("second", "1")
    );
    assert_eq!(first.seen().len(), 10);
    // Still a candidate, after the others: when `second` fails, `first` is tried.
    second.then(failing(500, vec![]));
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(header(&res, "x-modelgate-provider"), "first");
}

#[actix_web::test]
async fn an_unreachable_provider_is_skipped_and_a_client_may_opt_out() {
    let app = spawn_app().await;
    let second = Mock::start().await;
    // A port nothing listens on: bound, then let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    app.create(&registered("first", &dead, &["m"], json!(null)))
        .await;
    app.create(&registered("second", &second.base, &["m"], json!(null)))
        .await;
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-modelgate-provider"), "second");

    let opted_out = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-modelgate-fallback", "off")
        .json(&chat("m"))
        .send()
        .await
        .unwrap();
    openai_error(opted_out, 502, "upstream_unreachable").await;
    assert_eq!(
        second.seen().len(),
        1,
        "no fallback when the client said off"
    );

    let wrong = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-modelgate-fallback", "maybe")
        .json(&chat("m"))
        .send()
        .await
        .unwrap();
    // Every answer says how many candidates were tried, none for a call refused before any.
    assert_eq!(
        (
            header(&wrong, "x-modelgate-attempts"),
            header(&wrong, "x-modelgate-fallbacks")
        ),
        ("0", "0")
    );
    let error = openai_error(wrong, 400, "invalid_header").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("x-modelgate-fallback")
    );
}

#[actix_web::test]
async fn a_refused_key_rests_and_the_next_key_answers_now() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m"], json!(null)))
        .await;
    add_key(&app, "box", "sk-older-key-0123456789").await;
    let newest = add_key(&app, "box", "sk-newest-key-0123456789").await;
    mock.then(failing(401, vec![]));
    let res = call(&app, "/v1/chat/completions", chat("box:m")).await;
    assert_eq!(res.status(), 200);
    let keys: Vec<String> = mock
        .seen()
        .iter()
        .map(|s| s.headers["authorization"].clone())
        .collect();
    assert_eq!(
        keys,
        [
            "Bearer sk-newest-key-0123456789",
            "Bearer sk-older-key-0123456789"
        ]
    );
    // The refused key now rests: the next call starts with the other one.
    let res = call(&app, "/v1/chat/completions", chat("box:m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        mock.last().headers["authorization"],
        "Bearer sk-older-key-0123456789"
    );
    assert_eq!(mock.seen().len(), 3);
    // Rotating the refused key ends its rest: it is first in line again.
    let rotated = app
        .post_json(
            &format!("/provider-keys/{}/rotate", newest["id"].as_str().unwrap()),
            &json!({"name": "k", "value": "sk-rotated-key-0123456789"}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    call(&app, "/v1/chat/completions", chat("box:m")).await;
    assert_eq!(
        mock.last().headers["authorization"],
        "Bearer sk-rotated-key-0123456789"
    );
}

#[actix_web::test]
async fn when_every_key_is_refused_the_answer_is_502_and_names_no_key() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m"], json!(null)))
        .await;
    add_key(&app, "box", "sk-first-secret-0123456789").await;
    add_key(&app, "box", "sk-second-secret-0123456789").await;
    mock.then(failing(401, vec![]));
    mock.then(failing(403, vec![]));
    let res = call(&app, "/v1/chat/completions", chat("box:m")).await;
    assert_eq!(header(&res, "x-modelgate-attempts"), "2");
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("secret"),
        "no key and no upstream body: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "upstream_credentials_exhausted");
    assert_eq!(
        body["error"]["attempts"],
        json!([
            {"provider": "box", "model": "m", "status": 401, "error": "upstream_refused_credentials"},
            {"provider": "box", "model": "m", "status": 403, "error": "upstream_refused_credentials"},
        ])
    );
}

#[actix_web::test]
async fn when_every_attempt_is_rate_limited_the_client_waits_the_shortest_time() {
    let app = spawn_app().await;
    let (first, second) = two_providers(&app).await;
    first.then(failing(429, vec![("retry-after", "9")]));
    second.then(failing(429, vec![("retry-after-ms", "2500")]));
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 429);
    assert_eq!(header(&res, "retry-after"), "3");
    assert_eq!(header(&res, "retry-after-ms"), "2500");
    openai_error(res, 429, "upstream_rate_limited").await;

    // A single attempt passes the upstream's own answer on, headers and all.
    first.then(failing(429, vec![("retry-after", "7")]));
    let only = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-modelgate-fallback", "off")
        .json(&chat("first:m"))
        .send()
        .await
        .unwrap();
    assert_eq!(only.status(), 429);
    assert_eq!(header(&only, "retry-after"), "7");
    assert_eq!(
        only.json::<Value>().await.unwrap()["error"]["message"],
        "upstream says 429"
    );
}

#[actix_web::test]
async fn a_refused_request_is_not_retried_elsewhere_but_a_fallback_model_is_tried() {
    let app = spawn_app().await;
    let (first, second) = two_providers(&app).await;
    let other = Mock::start().await;
    app.create(&registered("other", &other.base, &["backup"], json!(null)))
        .await;
    first.then(failing(400, vec![]));
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(res.status(), 400, "the upstream's own 400, as it said it");
    assert_eq!(
        second.seen().len(),
        0,
        "no other provider for a bad request"
    );

    first.then(failing(422, vec![]));
    let mut body = chat("m");
    body["models"] = json!(["backup"]);
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        (
            header(&res, "x-modelgate-provider"),
            header(&res, "x-modelgate-model")
        ),
        ("other", "backup")
    );
    assert_eq!(second.seen().len(), 0);
    assert_eq!(other.last().body["model"], "backup");
    assert!(other.last().body.get("models").is_none());
}

#[actix_web::test]
async fn when_attempts_fail_in_different_ways_the_answer_is_503_listing_them() {
    let app = spawn_app().await;
    let (first, second) = two_providers(&app).await;
    first.then(failing(500, vec![]));
    second.then(failing(429, vec![]));
    let mut body = chat("m");
    body["models"] = json!(["nobody-serves-this", "first:m"]);
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(header(&res, "x-modelgate-attempts"), "3");
    let error = openai_error(res, 503, "all_attempts_failed").await;
    assert_eq!(
        error["attempts"],
        json!([
            {"provider": "first", "model": "m", "status": 500, "error": "upstream_error"},
            {"provider": "second", "model": "m", "status": 429, "error": "upstream_rate_limited"},
            {"provider": null, "model": "nobody-serves-this", "status": null, "error": "model_not_found"},
        ]),
        "first:m is the first candidate again, so it is not tried twice"
    );
    assert_eq!((first.seen().len(), second.seen().len()), (1, 1));
}

#[actix_web::test]
async fn anthropic_routes_fail_over_and_answer_in_their_own_shape() {
    let app = spawn_app().await;
    let (first, second) = (Mock::start().await, Mock::start().await);
    let surfaces = json!([{"format": "anthropic", "surface": "messages"}]);
    for (slug, mock) in [("first", &first), ("second", &second)] {
        app.create(&registered(slug, &mock.base, &["claude"], surfaces.clone()))
            .await;
    }
    first.then(failing(529, vec![]));
    let res = call(&app, "/v1/messages", chat("claude")).await;
    assert_eq!(header(&res, "x-modelgate-provider"), "second");
    first.then(failing(529, vec![]));
    second.then(failing(403, vec![]));
    let res = call(&app, "/v1/messages", chat("claude")).await;
    let error = anthropic_error(res, 503, "overloaded_error").await;
    assert_eq!(error["attempts"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn silence_everywhere_is_a_504_and_the_calls_budget_bounds_every_attempt() {
    let app = spawn_app_with(|s| s.gateway.request_timeout_secs = 1).await;
    let (first, second) = two_providers(&app).await;
    first.then(Reply::Hang);
    second.then(Reply::Hang);
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    assert_eq!(header(&res, "x-modelgate-attempts"), "2");
    let error = openai_error(res, 504, "upstream_timeout").await;
    assert_eq!(error["attempts"][1]["error"], "upstream_timeout");

    // The call's whole budget runs out during the first attempt: the second is never made.
    let app = spawn_app_with(|s| s.gateway.total_timeout_secs = 1).await;
    let (first, second) = two_providers(&app).await;
    first.then(Reply::Hang);
    let res = call(&app, "/v1/chat/completions", chat("m")).await;
    let error = openai_error(res, 504, "upstream_timeout").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("total_timeout_secs"),
        "{error}"
    );
    assert_eq!(second.seen().len(), 0);
}

/// A stream request to `m` whose first provider's stream is driven by the test.
async fn streaming(app: &TestApp) -> reqwest::Response {
    let mut body = chat("m");
    body["stream"] = json!(true);
    call(app, "/v1/chat/completions", body).await
}

const ROLE: &[u8] = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n";
const HELLO: &[u8] = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n";

#[actix_web::test]
async fn a_stream_that_breaks_before_its_first_content_fails_over() {
    let app = spawn_app().await;
    let (first, second) = two_providers(&app).await;
    let (events, _gone) = first.then_stream();
    events.send(Bytes::from_static(ROLE)).unwrap();
    drop(events); // the upstream ends the stream after its opening
    let (later, _) = second.then_stream();
    later.send(Bytes::from_static(ROLE)).unwrap();
    later.send(Bytes::from_static(HELLO)).unwrap();
    later.send(Bytes::from_static(b"data: [DONE]\n\n")).unwrap();
    drop(later);
    let res = streaming(&app).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-modelgate-provider"), "second");
    let text = res.text().await.unwrap();
    let want = [ROLE, HELLO, b"data: [DONE]\n\n"].concat();
    assert_eq!(text.as_bytes(), want, "one opening, the second provider's");
}

#[actix_web::test]
async fn after_its_first_content_a_stream_never_switches_and_a_cut_says_so() {
    let app = spawn_app().await;
    let (first, second) = two_providers(&app).await;
    let (events, _gone) = first.then_stream();
    events.send(Bytes::from_static(ROLE)).unwrap();
    events.send(Bytes::from_static(HELLO)).unwrap();
    let res = streaming(&app).await;
    assert_eq!(header(&res, "x-modelgate-provider"), "first");
    let mut body = res.bytes_stream();
    // The opening and the content arrive while the upstream still holds the rest.
    let mut got = Vec::new();
    while got.len() < ROLE.len() + HELLO.len() {
        got.extend_from_slice(&body.next().await.unwrap().unwrap());
    }
    assert_eq!(got, [ROLE, HELLO].concat());
    drop(events); // cut before [DONE]
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    let rest = String::from_utf8(rest).unwrap();
    assert!(
        rest.starts_with("data: {\"error\":") && rest.contains("stream_ended_early"),
        "{rest}"
    );
    assert_eq!(second.seen().len(), 0, "never switched after content");
}

#[actix_web::test]
async fn a_call_lays_out_at_most_64_candidates() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m"], json!(null)))
        .await;
    for i in 0..65 {
        add_key(&app, "box", &format!("sk-key-number-{i:03}-0123456789")).await;
    }
    for _ in 0..70 {
        mock.then(failing(401, vec![]));
    }
    let res = call(&app, "/v1/chat/completions", chat("box:m")).await;
    assert_eq!(header(&res, "x-modelgate-attempts"), "64");
    openai_error(res, 502, "upstream_credentials_exhausted").await;
    assert_eq!(mock.seen().len(), 64);
    // The oldest key, 65th in line, was not among them.
    assert!(
        mock.seen()
            .iter()
            .all(|s| !s.headers["authorization"].contains("number-000"))
    );
}
