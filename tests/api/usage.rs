//! `/usage` and `/usage/overview`: one event per attempt with the upstream's own counts —
//! bodies and streams of both formats, retries and fallbacks as events of their own, attempts
//! that got no answer as status 0, a caller that leaves mid-stream still recorded — in
//! ngrok's shapes, surviving a restart.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::helpers::data_plane::{call, closed_port, failing, header, registered};
use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_in};
use crate::schema::assert_valid;
use crate::upstream::{Mock, Reply};

const SINCE: &str = "2020-01-01T00:00:00Z";

/// A day ago: an overview sums at most a year.
fn yesterday() -> String {
    let at = std::time::SystemTime::now() - Duration::from_secs(86_400);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The events `query` lists once there are at least `n` (they are written in batches, a
/// tenth of a second apart), checked against ngrok's shapes.
pub(crate) async fn events(app: &TestApp, query: &str, n: usize) -> Vec<Value> {
    let path = format!("/usage?startTime={SINCE}&{query}");
    for _ in 0..200 {
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        if !query.contains("include=") {
            assert_valid("AIGatewayUsageList", &body);
        }
        let list = body["aiGatewayUsage"].as_array().unwrap().clone();
        if list.len() >= n {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} events for {path}");
}

fn openai_body(prompt: u64, completion: u64) -> Reply {
    Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({
            "id": "c", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion,
                      "prompt_tokens_details": {"cached_tokens": 2}},
        }),
    }
}

#[actix_web::test]
async fn a_call_s_event_carries_the_upstream_s_counts_and_the_call_s_ids() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "box",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    mock.then(openai_body(12, 5));
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "box:m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let request_id = header(&res, "x-modelgate-request-id").to_owned();
    res.bytes().await.unwrap();

    let list = events(&app, "", 1).await;
    let e = &list[0];
    assert_eq!(e["requestId"], request_id.as_str());
    assert_eq!(e["accessKeyId"], "admin");
    assert_eq!(
        (&e["provider"], &e["providerDisplayName"]),
        (&json!("box"), &json!("box"))
    );
    assert_eq!(
        (&e["model"], &e["modelDisplayName"]),
        (&json!("m"), &json!("m"))
    );
    assert_eq!(
        (&e["attemptNumber"], &e["isFinalAttempt"]),
        (&json!(1), &json!(true))
    );
    assert_eq!(
        (&e["statusCode"], &e["isError"]),
        (&json!(200), &json!(false))
    );
    assert_eq!(e["stopReason"], "stop");
    // The uncached input: 12 prompt tokens, 2 of them read from the cache.
    assert_eq!(
        (&e["inputTokens"], &e["cacheReadTokens"]),
        (&json!(10), &json!(2))
    );
    assert_eq!(e["outputTokens"], 5);
    assert_eq!(
        (&e["keySource"], &e["totalCost"]),
        (&json!("none"), &json!("0.00000"))
    );
    assert!(
        e.get("latencyMs").is_none(),
        "extensions only when asked: {e}"
    );

    let timed = events(&app, "include=timing", 1).await;
    assert_eq!(timed[0]["tokensKnown"], true);
    assert!(timed[0]["latencyMs"].is_u64() && timed[0]["ttfbMs"].is_u64());
    app.stop().await;
}

#[actix_web::test]
async fn streams_of_both_formats_are_counted_exactly() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    app.create(&registered("oai", &base, &["m"], json!(null)))
        .await;
    let messages = json!([{"format": "anthropic", "surface": "messages"}]);
    app.create(&registered("ant", &base, &["c"], messages))
        .await;

    let (tx, _gone) = mock.then_stream();
    for chunk in [
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":null}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":7}}\n\n",
        "data: [DONE]\n\n",
    ] {
        tx.send(Bytes::from(chunk)).unwrap();
    }
    drop(tx);
    let body = json!({"model": "oai:m", "stream": true, "messages": []});
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();

    let (tx, _gone) = mock.then_stream();
    for chunk in [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":40,\"output_tokens\":1,\"cache_read_input_tokens\":4}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ] {
        tx.send(Bytes::from(chunk)).unwrap();
    }
    drop(tx);
    let body = json!({"model": "ant:c", "stream": true, "max_tokens": 5, "messages": []});
    let res = call(&app, "/v1/messages", body).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();

    let list = events(&app, "include=timing", 2).await;
    let (ant, oai) = (&list[0], &list[1]);
    assert_eq!(oai["isStreaming"], true);
    assert_eq!(
        (&oai["inputTokens"], &oai["outputTokens"]),
        (&json!(31), &json!(7))
    );
    assert_eq!(oai["stopReason"], "length");
    assert_eq!(
        (&ant["inputTokens"], &ant["outputTokens"]),
        (&json!(40), &json!(9))
    );
    assert_eq!(
        (&ant["cacheReadTokens"], &ant["stopReason"]),
        (&json!(4), &json!("end_turn"))
    );
    assert_eq!(ant["tokensKnown"], true);
    app.stop().await;
}

#[actix_web::test]
async fn a_stream_that_reports_nothing_counts_nothing() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "oai",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    let (tx, _gone) = mock.then_stream();
    tx.send(Bytes::from_static(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
    ))
    .unwrap();
    drop(tx);
    let body = json!({"model": "oai:m", "stream": true, "messages": []});
    call(&app, "/v1/chat/completions", body)
        .await
        .bytes()
        .await
        .unwrap();
    let e = &events(&app, "include=timing", 1).await[0];
    assert_eq!(
        (&e["inputTokens"], &e["outputTokens"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(e["tokensKnown"], false);
    app.stop().await;
}

#[actix_web::test]
async fn retries_and_fallbacks_are_events_of_their_own() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    app.create(&registered("first", &down, &["m"], json!(null)))
        .await;
    app.create(&registered("second", &base, &["m"], json!(null)))
        .await;
    app.create(&registered("third", &base, &["m"], json!(null)))
        .await;
    mock.then(failing(503, vec![]));
    mock.then(openai_body(3, 1));
    // A bare name: `first` (unreachable), `second` (503), then `third`, which answers.
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let request_id = header(&res, "x-modelgate-request-id").to_owned();
    let attempts = header(&res, "x-modelgate-attempts").to_owned();
    res.bytes().await.unwrap();

    let all = events(&app, "includeRetries=true", 3).await;
    assert_eq!(attempts, "3", "the header counts what the events count");
    let rows: Vec<(u64, &str, u64, bool, bool)> = all
        .iter()
        .rev()
        .map(|e| {
            assert_eq!(e["requestId"], request_id.as_str());
            (
                e["attemptNumber"].as_u64().unwrap(),
                e["provider"].as_str().unwrap(),
                e["statusCode"].as_u64().unwrap(),
                e["isError"].as_bool().unwrap(),
                e["isFinalAttempt"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, "first", 0, true, false),
            (2, "second", 503, true, false),
            (3, "third", 200, false, true),
        ]
    );
    let finals = events(&app, "", 1).await;
    assert_eq!(finals.len(), 1);
    assert_eq!(finals[0]["attemptNumber"], 3);
    app.stop().await;
}

#[actix_web::test]
async fn a_call_that_fails_everywhere_ends_in_a_final_error_event() {
    let app = spawn_app().await;
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    app.create(&registered("gone", &down, &["m"], json!(null)))
        .await;
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "gone:m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 502);
    let e = &events(&app, "", 1).await[0];
    assert_eq!((&e["statusCode"], &e["isError"]), (&json!(0), &json!(true)));
    assert_eq!(
        (&e["isFinalAttempt"], &e["stopReason"]),
        (&json!(true), &json!(""))
    );
    // A call refused before any attempt makes none.
    let res = call(&app, "/v1/chat/completions", json!({"model": "nowhere:x"})).await;
    assert_eq!(res.status(), 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(events(&app, "includeRetries=true", 1).await.len(), 1);
    app.stop().await;
}

#[actix_web::test]
async fn a_caller_that_leaves_mid_stream_is_still_recorded() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "oai",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    let (tx, _gone) = mock.then_stream();
    tx.send(Bytes::from_static(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
    ))
    .unwrap();
    let body = json!({"model": "oai:m", "stream": true, "messages": []});
    let mut res = call(&app, "/v1/chat/completions", body).await;
    assert!(
        res.chunk().await.unwrap().is_some(),
        "the first content arrived"
    );
    drop(res);
    // The gateway notices the caller left (as tests/api/abandoned.rs shows) and records the
    // attempt with what had passed, though the upstream never ended its stream.
    let e = &events(&app, "", 1).await[0];
    assert_eq!(e["stopReason"], "client_disconnected");
    assert_eq!(
        (&e["statusCode"], &e["isError"]),
        (&json!(200), &json!(false))
    );
    drop(tx);
    app.stop().await;
}

#[actix_web::test]
async fn the_overview_sums_what_the_events_say_by_provider_and_by_key() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    app.create(&registered("a", &base, &["m"], json!(null)))
        .await;
    app.create(&registered("b", &base, &["m"], json!(null)))
        .await;
    for (model, reply) in [
        ("a:m", openai_body(1, 1)),
        ("a:m", failing(400, vec![])),
        ("b:m", openai_body(1, 1)),
    ] {
        mock.then(reply);
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": model, "messages": []}),
        )
        .await
        .bytes()
        .await
        .unwrap();
    }
    events(&app, "", 3).await;
    let res = app
        .get(&format!(
            "/usage/overview?startTime={}&include=tokens",
            yesterday()
        ))
        .await;
    assert_eq!(res.status(), 200);
    let overview: Value = res.json().await.unwrap();
    let buckets = overview["buckets"].as_array().unwrap();
    let keys: Vec<(&str, u64, u64)> = buckets
        .iter()
        .map(|b| {
            (
                b["groupKey"].as_str().unwrap(),
                b["requests"].as_u64().unwrap(),
                b["errors"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, [("a", 2, 1), ("b", 1, 0)]);
    assert_eq!(overview["totals"]["requests"], 3);
    assert_eq!(overview["totals"]["errors"], 1);
    assert_eq!(overview["totals"]["outputTokens"], 2, "{overview}");
    assert_eq!(buckets[0]["outputTokens"], 1, "{overview}");

    let plain: Value = app
        .get(&format!(
            "/usage/overview?startTime={}&groupBy=accessKey",
            yesterday()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_valid("AIGatewayUsageOverview", &plain);
    assert_eq!(plain["buckets"][0]["groupKey"], "admin");
    assert_eq!(plain["buckets"][0]["requests"], 3);
    app.stop().await;
}

#[actix_web::test]
async fn pages_follow_the_cursor_and_bad_parameters_are_named() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "a",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    for _ in 0..3 {
        mock.then(openai_body(1, 1));
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": "a:m", "messages": []}),
        )
        .await
        .bytes()
        .await
        .unwrap();
    }
    events(&app, "", 3).await;
    let first: Value = app
        .get(&format!("/usage?startTime={SINCE}&limit=2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["aiGatewayUsage"].as_array().unwrap().len(), 2);
    let next = first["nextPageUri"].as_str().expect("a next page");
    let second: Value = app.get(next).await.json().await.unwrap();
    let rest = second["aiGatewayUsage"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert!(second["nextPageUri"].is_null());
    assert!(rest[0]["id"].as_str() < first["aiGatewayUsage"][1]["id"].as_str());

    let res = app.get("/usage").await;
    let body = assert_error(res, 400, "invalid_query").await;
    assert!(
        body["details"]["startTime"]
            .as_str()
            .unwrap()
            .contains("required")
    );
    let res = app
        .get("/usage?startTime=yesterday&includeRetries=maybe&cursor=x&limit=0")
        .await;
    let body = assert_error(res, 400, "invalid_query").await;
    for field in ["startTime", "includeRetries", "cursor", "limit"] {
        assert!(body["details"][field].is_string(), "{field}: {body}");
    }
    let res = app
        .get(&format!("/usage/overview?startTime={SINCE}&groupBy=model"))
        .await;
    let body = assert_error(res, 400, "invalid_query").await;
    assert!(body["details"]["groupBy"].is_string(), "{body}");
    assert!(
        body["details"]["endTime"]
            .as_str()
            .unwrap()
            .contains("366 days"),
        "{body}"
    );
    // An access key may not read usage.
    let res = app
        .client
        .get(app.url(&format!("/usage?startTime={SINCE}")))
        .bearer_auth("mga_not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.stop().await;
}

#[actix_web::test]
async fn events_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let mock = Mock::start().await;
    app.create(&registered(
        "a",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    mock.then(openai_body(4, 2));
    call(
        &app,
        "/v1/chat/completions",
        json!({"model": "a:m", "messages": []}),
    )
    .await
    .bytes()
    .await
    .unwrap();
    // Stopped at once: the event still queued is written on the way out.
    app.stop().await;
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let list = events(&app, "", 1).await;
    assert_eq!(list[0]["outputTokens"], 2);
    app.stop().await;
}

#[actix_web::test]
async fn tokens_are_priced_at_the_configured_rates() {
    let app = crate::helpers::spawn_app_with(|s| {
        let price = |input, output| modelgate::config::PriceSettings {
            input,
            output,
            cache_read: 0.5,
            cache_write: 0.0,
        };
        s.prices.insert("a:m".into(), price(1.0, 2.0));
        // A bare model id prices it at every provider without a qualified price.
        s.prices.insert("m".into(), price(100.0, 100.0));
    })
    .await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    app.create(&registered("a", &base, &["m"], json!(null)))
        .await;
    app.create(&registered("b", &base, &["m"], json!(null)))
        .await;
    // 1,000,002 prompt tokens, 2 of them cached; 500,000 out.
    for model in ["a:m", "b:m"] {
        mock.then(openai_body(1_000_002, 500_000));
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": model, "messages": []}),
        )
        .await
        .bytes()
        .await
        .unwrap();
    }
    let list = events(&app, "", 2).await;
    // $1 for a million uncached in, $1 for half a million out, $0.000001 for 2 cached.
    assert_eq!(list[1]["totalCost"], "2.00000", "{}", list[1]);
    assert_eq!(list[0]["totalCost"], "150.00000", "{}", list[0]);
    let overview: Value = app
        .get(&format!("/usage/overview?startTime={}", yesterday()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overview["totals"]["cost"], "152.00000", "{overview}");
    app.stop().await;
}
