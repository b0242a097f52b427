//! An access key's `budget` and `tokensPerMinute`, by a wall clock each test moves: a spent
//! budget answers 402 in the caller's format until its UTC day or month rolls over, and still
//! after a restart; a minute's tokens used up answer 429 with `retry-after`. Each call's cost
//! is counted when its usage event is recorded, so a test waits for the event (in `/usage`)
//! before the call that must see it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::access_keys::{create, json as answer, model_call};
use crate::helpers::data_plane::{anthropic_error, openai_error, registered};
use crate::helpers::{TestApp, assert_error, assert_violations, spawn_app, spawn_app_clocked};
use crate::upstream::{Mock, Reply};

/// 2030-01-30T12:00:00Z: a whole minute, a day and a half before February.
const START: u64 = 1_896_004_800_000;
const HOUR: u64 = 3_600_000;

/// A server on `dir` whose wall clock reads `now`, pricing `up:m` at $1 per million input
/// and output tokens.
async fn priced_app(dir: &Path, now: &Arc<AtomicU64>) -> TestApp {
    let read = Arc::clone(now);
    spawn_app_clocked(
        dir,
        |s| {
            let price = modelgate::config::PriceSettings {
                input: 1.0,
                output: 1.0,
                cache_read: 0.0,
                cache_write: 0.0,
            };
            s.prices.insert("up:m".into(), price);
        },
        Arc::new(move || read.load(Ordering::SeqCst)),
    )
    .await
}

async fn upstream(app: &TestApp) -> Mock {
    let mock = Mock::start().await;
    app.create(&registered(
        "up",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    mock
}

/// A chat completion that reports `prompt` tokens (2 of them cached) and `completion`.
fn completion(prompt: u64, completion: u64) -> Reply {
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

/// A call that answers 200 with `reply`, read to its end.
async fn paid_call(app: &TestApp, mock: &Mock, token: &str, reply: Reply) {
    mock.then(reply);
    let res = model_call(app, token).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
}

/// Waits until `/usage` lists `n` events: each is counted before it is queued to be written.
async fn recorded(app: &TestApp, n: usize) {
    let path = "/usage?startTime=2020-01-01T00:00:00Z&endTime=2099-01-01T00:00:00Z";
    for _ in 0..200 {
        let body: Value = app.get(path).await.json().await.unwrap();
        if body["aiGatewayUsage"].as_array().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} usage events");
}

async fn anthropic_call(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/messages"))
        .header("x-api-key", token)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "up:m", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_spent_day_budget_answers_402_in_both_formats_until_the_next_utc_day() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(START));
    let app = priced_app(dir.path(), &now).await;
    let mock = upstream(&app).await;
    let budget = json!({"amountUsd": 1.5, "period": "day"});
    let (key, token) = create(&app, json!({"budget": budget})).await;
    assert_eq!(key["budget"], budget);
    let (_, other) = create(&app, json!({})).await;

    // $1 a call: the first two pass, the second crossing the budget and not cut.
    paid_call(&app, &mock, &token, completion(1_000_002, 0)).await;
    recorded(&app, 1).await;
    paid_call(&app, &mock, &token, completion(1_000_002, 0)).await;
    recorded(&app, 2).await;
    let error = openai_error(model_call(&app, &token).await, 402, "insufficient_quota").await;
    assert_eq!(error["type"], "insufficient_quota");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("1.50000 USD per UTC day"), "{message}");
    assert!(message.contains("2030-01-31T00:00:00"), "{message}");
    let error = anthropic_error(anthropic_call(&app, &token).await, 402, "billing_error").await;
    assert!(error["message"].as_str().unwrap().contains("budget"));
    // Refused before any attempt; another key is not counted with it.
    assert_eq!(mock.seen().len(), 2);
    assert_eq!(model_call(&app, &other).await.status(), 200);

    // A bigger budget applies at once; a smaller one again refuses.
    let path = key["uri"].as_str().unwrap();
    let raised = json!({"budget": {"amountUsd": 3, "period": "day"}});
    answer(app.patch_json(path, &raised).await, 200).await;
    paid_call(&app, &mock, &token, completion(1_000_002, 0)).await;
    recorded(&app, 4).await;
    openai_error(model_call(&app, &token).await, 402, "insufficient_quota").await;

    now.store(START + 12 * HOUR - 1, Ordering::SeqCst);
    openai_error(model_call(&app, &token).await, 402, "insufficient_quota").await;
    now.store(START + 12 * HOUR, Ordering::SeqCst);
    assert_eq!(model_call(&app, &token).await.status(), 200);
    app.stop().await;
    mock.stop().await;
}

#[actix_web::test]
async fn a_month_budget_survives_restarts_and_ends_with_its_month() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(START));
    let app = priced_app(dir.path(), &now).await;
    let mock = upstream(&app).await;
    let budget = json!({"amountUsd": 1, "period": "month"});
    let (key, token) = create(&app, json!({"budget": budget})).await;
    paid_call(&app, &mock, &token, completion(1_000_002, 0)).await;
    recorded(&app, 1).await;
    openai_error(model_call(&app, &token).await, 402, "insufficient_quota").await;
    app.stop().await;

    // The same day: its spend comes back from the usage store's daily sums.
    let app = priced_app(dir.path(), &now).await;
    let kept = answer(app.get(key["uri"].as_str().unwrap()).await, 200).await;
    assert_eq!(kept["budget"]["period"], "month");
    assert_eq!(kept["budget"]["amountUsd"].as_f64(), Some(1.0));
    openai_error(model_call(&app, &token).await, 402, "insufficient_quota").await;
    app.stop().await;

    // The next day of the same month: the month's spend is the sum of its days.
    now.store(START + 24 * HOUR, Ordering::SeqCst);
    let app = priced_app(dir.path(), &now).await;
    openai_error(model_call(&app, &token).await, 402, "insufficient_quota").await;
    // February: a new month.
    now.store(START + 36 * HOUR, Ordering::SeqCst);
    assert_eq!(model_call(&app, &token).await.status(), 200);
    app.stop().await;
    mock.stop().await;
}

#[actix_web::test]
async fn tokens_per_minute_answer_429_with_retry_after_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(START));
    let app = priced_app(dir.path(), &now).await;
    let mock = upstream(&app).await;
    let (key, token) = create(&app, json!({"tokensPerMinute": 30})).await;
    assert_eq!(key["tokensPerMinute"], 30);
    // 12 prompt tokens (2 cached) and 5 out: 17 a call.
    paid_call(&app, &mock, &token, completion(12, 5)).await;
    recorded(&app, 1).await;
    paid_call(&app, &mock, &token, completion(12, 5)).await;
    recorded(&app, 2).await;
    now.store(START + 20_000, Ordering::SeqCst);
    let res = model_call(&app, &token).await;
    assert_eq!(res.headers()["retry-after"], "40");
    assert_eq!(res.headers()["retry-after-ms"], "40000");
    let error = openai_error(res, 429, "tokens_per_minute_exceeded").await;
    assert!(error["message"].as_str().unwrap().contains("used 34"));
    anthropic_error(anthropic_call(&app, &token).await, 429, "rate_limit_error").await;
    app.stop().await;

    // The minute's tokens come back from its events.
    let app = priced_app(dir.path(), &now).await;
    openai_error(
        model_call(&app, &token).await,
        429,
        "tokens_per_minute_exceeded",
    )
    .await;
    now.store(START + 60_000, Ordering::SeqCst);
    mock.then(completion(12, 5));
    assert_eq!(model_call(&app, &token).await.status(), 200);

    let path = key["uri"].as_str().unwrap();
    let unlimited = answer(
        app.patch_json(path, &json!({"tokensPerMinute": null}))
            .await,
        200,
    )
    .await;
    assert!(unlimited.get("tokensPerMinute").is_none(), "{unlimited}");
    app.stop().await;
    mock.stop().await;
}

#[actix_web::test]
async fn budgets_and_token_limits_are_validated_shown_and_cleared() {
    let app = spawn_app().await;
    let bad = json!({
        "budget": {"amountUsd": -1, "period": "week"},
        "tokensPerMinute": 0,
    });
    let details = assert_violations(
        app.post_json("/access-keys", &bad).await,
        &["budget.amountUsd", "budget.period", "tokensPerMinute"],
    )
    .await;
    assert!(
        details["budget.amountUsd"]
            .as_str()
            .unwrap()
            .contains("from 0 to 1000000000"),
        "{details}"
    );
    assert!(
        details["budget.period"].as_str().unwrap().contains("day"),
        "{details}"
    );
    for (body, paths) in [
        (
            json!({"budget": {"amountUsd": "10", "period": "day"}}),
            &["budget.amountUsd"][..],
        ),
        (
            json!({"budget": {"amountUsd": 1e10, "period": "day"}}),
            &["budget.amountUsd"],
        ),
        (json!({"budget": {"period": "day"}}), &["budget.amountUsd"]),
        (json!({"budget": 5}), &["budget"]),
        (json!({"tokensPerMinute": 1.5}), &["tokensPerMinute"]),
    ] {
        assert_violations(app.post_json("/access-keys", &body).await, paths).await;
    }
    // The budget's object is closed, as every object of the API is.
    let extra = json!({"budget": {"amountUsd": 1, "period": "day", "cap": 2}});
    let refused = assert_error(
        app.post_json("/access-keys", &extra).await,
        400,
        "unknown_field",
    )
    .await;
    assert_eq!(refused["details"]["budget.cap"], "unknown field");
    assert!(
        answer(app.get("/access-keys").await, 200).await["aiGatewayAccessKeys"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing made by a refused body"
    );

    let (key, _) = create(&app, json!({"name": "plain"})).await;
    assert!(key.get("budget").is_none() && key.get("tokensPerMinute").is_none());
    let path = key["uri"].as_str().unwrap();
    let set = json!({"budget": {"amountUsd": 0.25, "period": "month"}, "tokensPerMinute": 1000});
    let changed = answer(app.patch_json(path, &set).await, 200).await;
    assert_eq!(changed["budget"], set["budget"]);
    assert_eq!(changed["tokensPerMinute"], 1000);
    let wrong = json!({"budget": {"amountUsd": 1, "period": "year"}});
    assert_violations(app.patch_json(path, &wrong).await, &["budget.period"]).await;
    let kept = answer(app.get(path).await, 200).await;
    assert_eq!(kept["budget"], set["budget"]);
    let cleared = answer(app.patch_json(path, &json!({"budget": null})).await, 200).await;
    assert!(cleared.get("budget").is_none(), "{cleared}");
    assert_eq!(cleared["tokensPerMinute"], 1000);
    app.stop().await;
}

#[actix_web::test]
async fn with_usage_off_token_limits_still_hold() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(START));
    let read = Arc::clone(&now);
    let app = spawn_app_clocked(
        dir.path(),
        |s| s.usage.enabled = false,
        Arc::new(move || read.load(Ordering::SeqCst)),
    )
    .await;
    let mock = upstream(&app).await;
    let (_, token) = create(&app, json!({"tokensPerMinute": 10})).await;
    paid_call(&app, &mock, &token, completion(12, 5)).await;
    // The call is counted as its answer ends, which the client may see a moment before.
    for _ in 0..200 {
        mock.then(completion(12, 5));
        let res = model_call(&app, &token).await;
        if res.status() == 429 {
            openai_error(res, 429, "tokens_per_minute_exceeded").await;
            app.stop().await;
            return;
        }
        res.bytes().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("tokensPerMinute was not enforced with usage off");
}
