//! What `/gateway-config` does to model calls: its timeouts between a provider's and the
//! config file's, the input cap refused before any attempt, the output cap in the body the
//! upstream receives.

use std::time::Duration;

use serde_json::{Value, json};

use super::patch;
use crate::helpers::data_plane::{anthropic_error, call, chat, openai_error, registered};
use crate::helpers::{ADMIN_TOKEN, TestApp, merged, spawn_app, spawn_app_with};
use crate::upstream::{Mock, Reply};

/// A chat call that only a broken build leaves waiting this long.
async fn bounded_call(app: &TestApp, model: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&chat(model))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("the gateway answered")
}

#[actix_web::test]
async fn a_per_request_timeout_written_cuts_the_next_call_where_the_config_files_would_not() {
    // The config file's own would hold the call for an hour.
    let app = spawn_app_with(|s| {
        s.gateway.request_timeout_secs = 3600;
        s.gateway.total_timeout_secs = 7200;
    })
    .await;
    let mock = Mock::start().await;
    app.create(&registered(
        "slow",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    patch(&app, json!({"perRequestTimeout": "1s"})).await;
    mock.then(Reply::Hang);
    let res = bounded_call(&app, "slow:m").await;
    openai_error(res, 504, "upstream_timeout").await;
    assert_eq!(mock.seen().len(), 1);
}

#[actix_web::test]
async fn a_providers_own_timeout_beats_the_gateway_configs() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&merged(
        registered("own", &format!("{}/v1", mock.base), &["m"], json!(null)),
        json!({"network": {"requestTimeoutSeconds": 1}}),
    ))
    .await;
    // The gateway's settings would let an attempt take a day.
    patch(
        &app,
        json!({"totalTimeout": "24h", "perRequestTimeout": "24h"}),
    )
    .await;
    mock.then(Reply::Hang);
    let res = bounded_call(&app, "own:m").await;
    openai_error(res, 504, "upstream_timeout").await;

    // The provider's own may allow an hour: the call's total written still bounds it.
    let other = Mock::start().await;
    app.create(&merged(
        registered("long", &format!("{}/v1", other.base), &["m"], json!(null)),
        json!({"network": {"requestTimeoutSeconds": 3600}}),
    ))
    .await;
    patch(
        &app,
        json!({"totalTimeout": "1s", "perRequestTimeout": "1s"}),
    )
    .await;
    other.then(Reply::Hang);
    let res = bounded_call(&app, "long:m").await;
    openai_error(res, 504, "upstream_timeout").await;
}

#[actix_web::test]
async fn an_input_above_max_input_tokens_is_refused_before_any_attempt_in_each_format() {
    let app = spawn_app().await;
    let (openai, anthropic) = (Mock::start().await, Mock::start().await);
    app.create(&registered(
        "oa",
        &format!("{}/v1", openai.base),
        &["m"],
        json!(null),
    ))
    .await;
    let surfaces = json!([{"format": "anthropic", "surface": "messages"}]);
    app.create(&registered("an", &anthropic.base, &["claude"], surfaces))
        .await;
    patch(&app, json!({"maxInputTokens": 10})).await;
    // `messages` alone is 44 bytes here: 11 tokens, one over.
    let long = json!({"model": "m", "messages": [{"role": "user", "content": "0123456789abcd"}]});
    assert_eq!(serde_json::to_string(&long["messages"]).unwrap().len(), 44);
    let res = call(&app, "/v1/chat/completions", long.clone()).await;
    let error = openai_error(res, 413, "input_tokens_exceeded").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("maxInputTokens of 10"),
        "{error}"
    );
    let res = call(
        &app,
        "/v1/messages",
        merged(long.clone(), json!({"model": "claude"})),
    )
    .await;
    let error = anthropic_error(res, 413, "request_too_large").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("about 11 tokens"),
        "{error}"
    );
    assert!(openai.seen().is_empty() && anthropic.seen().is_empty());

    // At the cap a call goes through; `system`, `tools`, `prompt` and `input` count too.
    let at = json!({"model": "m", "messages": [{"role": "user", "content": "0123456789"}]});
    assert_eq!(
        call(&app, "/v1/chat/completions", at.clone())
            .await
            .status(),
        200
    );
    let with_system = merged(at, json!({"system": "abcd"}));
    let res = call(&app, "/v1/chat/completions", with_system).await;
    openai_error(res, 413, "input_tokens_exceeded").await;
    let prompt = json!({"model": "m", "prompt": "x".repeat(40)});
    openai_error(
        call(&app, "/v1/completions", prompt).await,
        413,
        "input_tokens_exceeded",
    )
    .await;
    assert_eq!(openai.seen().len(), 1);

    // Cleared, the cap is gone.
    patch(&app, json!({"maxInputTokens": null})).await;
    assert_eq!(call(&app, "/v1/chat/completions", long).await.status(), 200);
}

#[actix_web::test]
async fn max_output_tokens_lowers_the_cap_sent_and_sets_one_when_none_is() {
    let app = spawn_app().await;
    let (openai, anthropic) = (Mock::start().await, Mock::start().await);
    app.create(&registered(
        "oa",
        &format!("{}/v1", openai.base),
        &["m"],
        json!(null),
    ))
    .await;
    let surfaces = json!([{"format": "anthropic", "surface": "messages"}]);
    app.create(&registered("an", &anthropic.base, &["claude"], surfaces))
        .await;
    // Without a cap the body goes as sent.
    let res = call(
        &app,
        "/v1/chat/completions",
        merged(chat("m"), json!({"max_tokens": 5000})),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(openai.last().body["max_tokens"], 5000);

    patch(&app, json!({"maxOutputTokens": 100})).await;
    let sent = |extra: Value| merged(chat("m"), extra);
    call(
        &app,
        "/v1/chat/completions",
        sent(json!({"max_tokens": 5000})),
    )
    .await;
    assert_eq!(openai.last().body["max_tokens"], 100);
    // A smaller cap stays, and no other is added.
    call(
        &app,
        "/v1/chat/completions",
        sent(json!({"max_completion_tokens": 50})),
    )
    .await;
    let body = openai.last().body;
    assert_eq!(body["max_completion_tokens"], 50);
    assert!(body.get("max_tokens").is_none(), "{body}");
    call(
        &app,
        "/v1/chat/completions",
        sent(json!({"max_completion_tokens": 500})),
    )
    .await;
    assert_eq!(openai.last().body["max_completion_tokens"], 100);
    // None sent: chat completions get `max_tokens`, the Responses API `max_output_tokens`.
    call(&app, "/v1/chat/completions", chat("m")).await;
    let body = openai.last().body;
    assert_eq!(body["max_tokens"], 100, "{body}");
    assert_eq!(body["messages"], chat("m")["messages"]);
    let res = call(&app, "/v1/responses", json!({"model": "m", "input": "hi"})).await;
    assert_eq!(res.status(), 200);
    let body = openai.last().body;
    assert_eq!(body["max_output_tokens"], 100, "{body}");
    assert!(body.get("max_tokens").is_none(), "{body}");
    call(
        &app,
        "/v1/responses",
        json!({"model": "m", "input": "hi", "max_output_tokens": 900}),
    )
    .await;
    assert_eq!(openai.last().body["max_output_tokens"], 100);
    // Anthropic's messages: lowered, or set.
    call(
        &app,
        "/v1/messages",
        merged(chat("claude"), json!({"max_tokens": 4096})),
    )
    .await;
    assert_eq!(anthropic.last().body["max_tokens"], 100);
    call(&app, "/v1/messages", chat("claude")).await;
    assert_eq!(anthropic.last().body["max_tokens"], 100);

    // Cleared, the cap sent goes as sent again.
    patch(&app, json!({"maxOutputTokens": null})).await;
    call(
        &app,
        "/v1/chat/completions",
        sent(json!({"max_tokens": 5000})),
    )
    .await;
    assert_eq!(openai.last().body["max_tokens"], 5000);
    call(&app, "/v1/chat/completions", chat("m")).await;
    assert!(openai.last().body.get("max_tokens").is_none());
}
