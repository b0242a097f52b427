//! `GET /metrics`: the Prometheus text exposition, read back with a Prometheus text parser —
//! HTTP answers by route pattern, upstream attempts and tokens by provider and model (`other`
//! for a model the provider does not declare), a stream's time to first content, breakers,
//! refusals before any attempt, store writes — who may read it, and the bound on its series.

use std::time::Duration;

use bytes::Bytes;
use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{MetricsExposition, PrometheusType, PrometheusValue, Sample};
use serde_json::{Value, json};

use crate::helpers::data_plane::{call, closed_port, failing, registered};
use crate::helpers::{ADMIN_TOKEN, CI_TOKEN, TestApp, assert_error, spawn_app, spawn_app_with};
use crate::upstream::{Mock, Reply};

type Scrape = MetricsExposition<PrometheusType, PrometheusValue>;

async fn scrape(app: &TestApp) -> Scrape {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = res.text().await.unwrap();
    parse_prometheus(&text).unwrap_or_else(|e| panic!("not Prometheus text: {e:?}\n{text}"))
}

/// The sum of `metric`'s counters or gauges whose labels include all of `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    matching(scrape, metric, labels)
        .map(|s| match &s.value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
            _ => panic!("{metric} is not a counter or gauge"),
        })
        .sum()
}

/// How many observations `metric`'s histograms with these labels hold (their `+Inf` bucket).
fn observed(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    matching(scrape, metric, labels)
        .map(|s| match &s.value {
            PrometheusValue::Histogram(h) => {
                assert!(h.buckets.len() > 2, "{metric} has buckets: {:?}", h.buckets);
                h.buckets
                    .iter()
                    .find(|b| b.upper_bound.is_infinite())
                    .map_or(0.0, |b| b.count.as_f64())
            }
            _ => panic!("{metric} is not a histogram"),
        })
        .sum()
}

fn matching<'s>(
    scrape: &'s Scrape,
    metric: &'s str,
    labels: &'s [(&str, &str)],
) -> impl Iterator<Item = &'s Sample<PrometheusValue>> + 's {
    scrape
        .families
        .get(metric)
        .into_iter()
        .flat_map(|family| family.iter_samples())
        .filter(move |s| {
            let set = s.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
}

/// Scrapes until `ready` holds: a usage event is observed when its answer's body ends, which
/// can be just after the client has read the last byte.
async fn scrape_until(app: &TestApp, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    for _ in 0..200 {
        let scraped = scrape(app).await;
        if ready(&scraped) {
            return scraped;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    panic!("the metrics never got there:\n{text}");
}

fn answer(prompt: u64, completion: u64) -> Reply {
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

async fn usage_events(app: &TestApp) -> usize {
    let res = app
        .get("/usage?startTime=2020-01-01T00:00:00Z&includeRetries=true")
        .await;
    let body: Value = res.json().await.unwrap();
    body["aiGatewayUsage"].as_array().unwrap().len()
}

#[actix_web::test]
async fn calls_of_every_kind_show_in_the_metrics_with_their_values() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    let boxed = app
        .create(&registered("box", &base, &["m"], json!(null)))
        .await;
    app.create(&registered("open", &base, &[], json!(null)))
        .await;
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    app.create(&registered("down", &down, &["x"], json!(null)))
        .await;

    // Answered, not streamed: 12 prompt tokens, 2 of them cached, 5 out.
    mock.then(answer(12, 5));
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "box:m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    // Streamed.
    let (tx, _gone) = mock.then_stream();
    for chunk in [
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":7}}\n\n",
        "data: [DONE]\n\n",
    ] {
        tx.send(Bytes::from(chunk)).unwrap();
    }
    drop(tx);
    let body = json!({"model": "box:m", "stream": true, "messages": []});
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    // A provider that declares no models takes any name: it is not a label.
    mock.then(answer(3, 1));
    let body = json!({"model": "open:made-up-by-a-client", "messages": []});
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    // The upstream refuses, and one is not there at all.
    mock.then(failing(400, vec![]));
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "box:m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 400);
    res.bytes().await.unwrap();
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "down:x", "messages": []}),
    )
    .await;
    assert!(res.status().is_server_error(), "{}", res.status());
    res.bytes().await.unwrap();
    // Refused before any attempt: no model named, and a provider no one registered.
    let res = call(&app, "/v1/chat/completions", json!({"messages": []})).await;
    assert_eq!(res.status(), 400);
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "nobody:m", "messages": []}),
    )
    .await;
    assert!(res.status().is_client_error(), "{}", res.status());
    // A provider read by its id: the pattern is the label, never the path.
    let id = boxed["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/providers/{id}")).await.status(), 200);
    assert_eq!(app.get("/no/such/route").await.status(), 404);

    let attempts = "modelgate_upstream_attempts_total";
    let m = scrape_until(&app, |s| {
        value(s, attempts, &[]) >= 5.0 && value(s, "modelgate_tokens_total", &[]) >= 57.0
    })
    .await;
    let at = |model: &'static str, outcome: &'static str| {
        value(
            &m,
            attempts,
            &[("provider", "box"), ("model", model), ("outcome", outcome)],
        )
    };
    assert_eq!(at("m", "ok"), 2.0);
    assert_eq!(at("m", "status_4xx"), 1.0);
    assert_eq!(
        value(
            &m,
            attempts,
            &[("provider", "open"), ("model", "other"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            attempts,
            &[
                ("provider", "down"),
                ("model", "x"),
                ("outcome", "no_answer")
            ]
        ),
        1.0
    );
    let tokens = |provider, model, direction| {
        value(
            &m,
            "modelgate_tokens_total",
            &[
                ("provider", provider),
                ("model", model),
                ("direction", direction),
            ],
        )
    };
    assert_eq!(tokens("box", "m", "input"), 10.0 + 31.0);
    assert_eq!(tokens("box", "m", "cache_read"), 2.0);
    assert_eq!(tokens("box", "m", "output"), 5.0 + 7.0);
    assert_eq!(tokens("open", "other", "input"), 1.0);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains("made-up-by-a-client"), "{text}");
    assert!(!text.contains(id), "a path is never a label:\n{text}");

    let first_content = "modelgate_stream_first_content_seconds";
    assert_eq!(
        observed(&m, first_content, &[("provider", "box"), ("model", "m")]),
        1.0
    );
    assert_eq!(observed(&m, first_content, &[]), 1.0, "only the stream");

    let refused = "modelgate_calls_refused_total";
    assert_eq!(value(&m, refused, &[("code", "missing_model")]), 1.0);
    assert_eq!(value(&m, refused, &[]), 2.0);
    // Every attempt has its event, and a call refused before any attempt has none.
    for _ in 0..200 {
        if usage_events(&app).await >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(usage_events(&app).await as f64, value(&m, attempts, &[]));
    assert_eq!(value(&m, "modelgate_usage_events_dropped_total", &[]), 0.0);

    let requests = "modelgate_http_requests_total";
    let chat = [("method", "POST"), ("route", "/v1/chat/completions")];
    assert_eq!(
        value(&m, requests, &[chat[0], chat[1], ("status", "200")]),
        3.0
    );
    assert_eq!(
        value(&m, requests, &[chat[0], chat[1], ("status", "400")]),
        2.0
    );
    assert_eq!(value(&m, requests, &chat), 7.0);
    assert_eq!(
        observed(&m, "modelgate_http_request_duration_seconds", &chat),
        7.0
    );
    let by_id = [
        ("method", "GET"),
        ("route", "/providers/{id}"),
        ("status", "200"),
    ];
    assert_eq!(value(&m, requests, &by_id), 1.0);
    let nowhere = [("route", "unmatched"), ("status", "404")];
    assert_eq!(value(&m, requests, &nowhere), 1.0);
    let created = [
        ("method", "POST"),
        ("route", "/providers"),
        ("status", "201"),
    ];
    assert_eq!(value(&m, requests, &created), 3.0);

    // Three providers written, each durable before its 201.
    let store = [("store", "registry")];
    assert!(observed(&m, "modelgate_store_write_seconds", &store) >= 3.0);
    assert!(observed(&m, "modelgate_store_group_commit_size", &store) >= 1.0);
    // The usage events went to their own database in batches, by the time /usage listed them.
    let m = scrape(&app).await;
    let usage = [("store", "usage")];
    assert!(observed(&m, "modelgate_store_write_seconds", &usage) >= 1.0);
    let batched: f64 = matching(&m, "modelgate_store_group_commit_size", &usage)
        .map(|s| match &s.value {
            PrometheusValue::Histogram(h) => h.sum.as_ref().map_or(0.0, |n| n.as_f64()),
            _ => panic!("a histogram"),
        })
        .sum();
    assert_eq!(batched, value(&m, attempts, &[]), "every event in a batch");

    let breaker = "modelgate_provider_breaker_state";
    assert_eq!(
        value(&m, breaker, &[("provider", "box"), ("state", "closed")]),
        1.0
    );
    assert_eq!(
        value(&m, breaker, &[("provider", "box"), ("state", "open")]),
        0.0
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_provider_that_keeps_failing_shows_its_breaker_open() {
    let app = spawn_app().await;
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    app.create(&registered("down", &down, &["x"], json!(null)))
        .await;
    let breaker = "modelgate_provider_breaker_state";
    let m = scrape(&app).await;
    assert_eq!(
        value(&m, breaker, &[("provider", "down"), ("state", "closed")]),
        1.0
    );
    // Five failures in a row open it.
    for _ in 0..5 {
        let res = call(
            &app,
            "/v1/chat/completions",
            json!({"model": "down:x", "messages": []}),
        )
        .await;
        assert!(res.status().is_server_error());
    }
    let m = scrape(&app).await;
    assert_eq!(
        value(&m, breaker, &[("provider", "down"), ("state", "open")]),
        1.0
    );
    assert_eq!(
        value(&m, breaker, &[("provider", "down"), ("state", "closed")]),
        0.0
    );
    app.stop().await;
}

#[actix_web::test]
async fn metrics_take_a_management_credential_unless_public() {
    let app = spawn_app().await;
    let url = app.url("/metrics");
    let res = app.client.get(&url).send().await.unwrap();
    assert_error(res, 401, "unauthorized").await;
    let res = app
        .client
        .get(&url)
        .bearer_auth("not-a-token-at-all")
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthorized").await;
    let res = app.post_json("/access-keys", &json!({"name": "app"})).await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json().await.unwrap();
    let token = key["token"].as_str().unwrap();
    let res = app
        .client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "access_key_not_allowed").await;
    for management in [ADMIN_TOKEN, CI_TOKEN] {
        let res = app
            .client
            .get(&url)
            .bearer_auth(management)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = app
        .req(reqwest::Method::HEAD, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;

    let app = spawn_app_with(|s| s.metrics.public = true).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("# TYPE modelgate_metrics_series_dropped_total counter"),
        "{text}"
    );
    // Public metrics leave the management API as it was.
    let res = app.client.get(app.url("/providers")).send().await.unwrap();
    assert_error(res, 401, "unauthorized").await;
    app.stop().await;
}

#[actix_web::test]
async fn past_max_series_new_label_sets_are_dropped_and_counted() {
    let app = spawn_app_with(|s| s.metrics.max_series = 4).await;
    let mock = Mock::start().await;
    // Two label sets: the requests counter and the duration histogram of `POST /providers`.
    app.create(&registered(
        "box",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    // Two more, `GET /metrics`'s, taken by this scrape's own answer.
    let m = scrape(&app).await;
    assert_eq!(
        value(&m, "modelgate_metrics_series_dropped_total", &[]),
        0.0
    );
    // No room for these two.
    assert_eq!(app.get("/no/such/route").await.status(), 404);
    let m = scrape(&app).await;
    assert_eq!(
        value(&m, "modelgate_metrics_series_dropped_total", &[]),
        2.0
    );
    let requests = "modelgate_http_requests_total";
    assert_eq!(value(&m, requests, &[("route", "unmatched")]), 0.0);
    // The series held go on counting.
    assert_eq!(value(&m, requests, &[("route", "/metrics")]), 1.0);
    app.create(&registered(
        "two",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    // A model call: its HTTP series, its attempt's and its tokens' are all new.
    mock.then(answer(12, 5));
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "box:m", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    let m = scrape_until(&app, |s| {
        value(s, "modelgate_metrics_series_dropped_total", &[]) >= 2.0 + 2.0 + 1.0 + 3.0
    })
    .await;
    assert_eq!(value(&m, requests, &[("route", "/providers")]), 2.0);
    assert_eq!(value(&m, requests, &[("route", "/metrics")]), 2.0);
    assert_eq!(value(&m, "modelgate_upstream_attempts_total", &[]), 0.0);
    assert_eq!(
        value(&m, "modelgate_metrics_series_dropped_total", &[]),
        2.0 + 2.0 + 1.0 + 3.0,
        "the call's two HTTP sets, its attempt, its three token directions"
    );
    app.stop().await;
}
