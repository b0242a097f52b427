//! `/gateway-config`: ngrok's `AIGatewayConfig`, stored and read back, its rules, its ETag;
//! what it does to model calls is `calls`.

mod calls;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::data_plane::{call, chat, registered};
use crate::helpers::{
    TestApp, assert_error, assert_violations, merged, spawn_app, spawn_app_in, spawn_app_with,
};
use crate::json_schema::assert_conforms;
use crate::schema::assert_valid;
use crate::upstream::Mock;

const PATH: &str = "/gateway-config";

pub(crate) async fn read(app: &TestApp) -> (Value, String) {
    let res = app.get(PATH).await;
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_valid("AIGatewayConfig", &body);
    (body, etag)
}

pub(crate) async fn patch(app: &TestApp, body: Value) -> Value {
    let res = app.patch_json(PATH, &body).await;
    assert_eq!(res.status(), 200);
    let got: Value = res.json().await.unwrap();
    assert_valid("AIGatewayConfig", &got);
    got
}

#[actix_web::test]
async fn an_unwritten_config_reads_the_config_files_timeouts_and_no_caps() {
    let app = spawn_app_with(|s| {
        s.gateway.total_timeout_secs = 90;
        s.gateway.request_timeout_secs = 30;
    })
    .await;
    let (body, etag) = read(&app).await;
    assert_eq!(
        body,
        json!({"accountId": "default", "uri": "/gateway-config", "totalTimeout": "1m30s",
               "perRequestTimeout": "30s", "maxInputTokens": null, "maxOutputTokens": null,
               "metadata": null})
    );
    // The answer is what the OpenAPI document says it is, too.
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = json!({"$ref": "#/components/schemas/AIGatewayConfig"});
    assert_conforms(&doc, &schema, &body, true);

    let head = app.req(Method::HEAD, PATH).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().unwrap(), etag);
    assert!(head.bytes().await.unwrap().is_empty());
    let cached = app
        .req(Method::GET, PATH)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    // The built-in defaults, with nothing in the config file.
    let app = spawn_app().await;
    let (body, _) = read(&app).await;
    assert_eq!(
        (&body["totalTimeout"], &body["perRequestTimeout"]),
        (&json!("10m0s"), &json!("5m0s"))
    );
    let res = app.client.get(app.url(PATH)).send().await.unwrap();
    assert_error(res, 401, "unauthorized").await;
}

#[actix_web::test]
async fn a_patch_keeps_what_it_omits_sets_what_it_sends_and_clears_what_it_nulls() {
    let app = spawn_app().await;
    let (_, first) = read(&app).await;
    let set = patch(
        &app,
        json!({"totalTimeout": "1.5h", "perRequestTimeout": "90s", "maxInputTokens": 1000,
               "maxOutputTokens": 200, "metadata": "rack 2"}),
    )
    .await;
    assert_eq!(
        set,
        json!({"accountId": "default", "uri": "/gateway-config", "totalTimeout": "1h30m0s",
               "perRequestTimeout": "1m30s", "maxInputTokens": 1000, "maxOutputTokens": 200,
               "metadata": "rack 2"})
    );
    let (read_back, second) = read(&app).await;
    assert_eq!(read_back, set);
    assert_ne!(first, second);

    // Nothing sent, or nothing new: nothing changes, the ETag neither.
    for body in [
        json!({}),
        json!({"perRequestTimeout": "1m30s", "maxInputTokens": 1000}),
    ] {
        assert_eq!(patch(&app, body).await, set);
        assert_eq!(read(&app).await.1, second);
    }
    let res = app.req(Method::PATCH, PATH).send().await.unwrap();
    assert_eq!(res.status(), 200);

    let cleared = patch(&app, json!({"maxInputTokens": null, "metadata": null})).await;
    assert_eq!(
        cleared,
        merged(
            set.clone(),
            json!({"maxInputTokens": null, "metadata": null})
        )
    );
    // Cleared, a cap reads `null` for good; a timeout written keeps its value.
    let (after, _) = read(&app).await;
    assert_eq!(after["maxInputTokens"], Value::Null);
    assert_eq!(after["totalTimeout"], "1h30m0s");
}

#[actix_web::test]
async fn timeouts_are_read_as_go_reads_them_and_written_as_go_writes_them() {
    let app = spawn_app().await;
    patch(&app, json!({"totalTimeout": "24h"})).await;
    for (sent, written) in [
        ("300s", "5m0s"),
        ("5m", "5m0s"),
        ("1h2m3.5s", "1h2m3.5s"),
        ("3600s", "1h0m0s"),
        ("1000ms", "1s"),
        ("1.5s", "1.5s"),
        ("1500000us", "1.5s"),
        ("1500000µs", "1.5s"),
        ("2000000000ns", "2s"),
        ("0.5h", "30m0s"),
        ("+90s", "1m30s"),
        ("1m0.000000001s", "1m0.000000001s"),
        ("86400s", "24h0m0s"),
    ] {
        let got = patch(&app, json!({"perRequestTimeout": sent})).await;
        assert_eq!(got["perRequestTimeout"], written, "{sent}");
        // What is written reads back as the same duration.
        let again = patch(&app, json!({"perRequestTimeout": written})).await;
        assert_eq!(again["perRequestTimeout"], written, "{written}");
    }
}

#[actix_web::test]
async fn every_violation_is_reported_at_once_naming_the_field_and_the_rule() {
    let app = spawn_app().await;
    let res = app
        .patch_json(
            PATH,
            &json!({"totalTimeout": "0.5s", "perRequestTimeout": "5 minutes",
                    "maxInputTokens": 0, "maxOutputTokens": -1, "metadata": 7}),
        )
        .await;
    let details = assert_violations(
        res,
        &[
            "maxInputTokens",
            "maxOutputTokens",
            "metadata",
            "perRequestTimeout",
            "totalTimeout",
        ],
    )
    .await;
    assert_eq!(details["totalTimeout"], "must be between 1s and 24h0m0s");
    assert!(
        details["perRequestTimeout"]
            .as_str()
            .unwrap()
            .contains("Go duration"),
        "{details}"
    );
    assert!(
        details["maxInputTokens"]
            .as_str()
            .unwrap()
            .contains("from 1 to 100000000"),
        "{details}"
    );
    for (body, field, words) in [
        (
            json!({"totalTimeout": "25h"}),
            "totalTimeout",
            "between 1s and 24h0m0s",
        ),
        (
            json!({"perRequestTimeout": "-5s"}),
            "perRequestTimeout",
            "between 1s",
        ),
        (
            json!({"perRequestTimeout": "1d"}),
            "perRequestTimeout",
            "unknown unit `d`",
        ),
        (
            json!({"perRequestTimeout": "30"}),
            "perRequestTimeout",
            "without its unit",
        ),
        (json!({"totalTimeout": 30}), "totalTimeout", "string"),
        (
            json!({"totalTimeout": null}),
            "totalTimeout",
            "cannot be cleared",
        ),
        (
            json!({"perRequestTimeout": null}),
            "perRequestTimeout",
            "cannot be cleared",
        ),
        (
            json!({"totalTimeout": "10s", "perRequestTimeout": "11s"}),
            "perRequestTimeout",
            "at most totalTimeout (10s)",
        ),
        // Against the value not sent: the config file's total (10m0s) when never written.
        (
            json!({"perRequestTimeout": "11m"}),
            "perRequestTimeout",
            "at most totalTimeout (10m0s)",
        ),
        (
            json!({"maxOutputTokens": 100_000_001}),
            "maxOutputTokens",
            "from 1 to",
        ),
        (
            json!({"maxOutputTokens": 1.5}),
            "maxOutputTokens",
            "whole number",
        ),
        (
            json!({"metadata": "x".repeat(4097)}),
            "metadata",
            "at most 4096",
        ),
    ] {
        let res = app.patch_json(PATH, &body).await;
        let details = assert_violations(res, &[field]).await;
        assert!(
            details[field].as_str().unwrap().contains(words),
            "{body}: {details}"
        );
    }
    // Against the stored value of the field not sent.
    patch(&app, json!({"perRequestTimeout": "2m"})).await;
    let res = app.patch_json(PATH, &json!({"totalTimeout": "1m"})).await;
    let details = assert_violations(res, &["totalTimeout"]).await;
    assert_eq!(
        details["totalTimeout"],
        "must be at least perRequestTimeout (2m0s)"
    );
    let res = app.patch_json(PATH, &json!({"accountId": "other"})).await;
    assert_error(res, 400, "unknown_field").await;
    // Nothing refused was written.
    let (body, _) = read(&app).await;
    assert_eq!(
        (
            &body["totalTimeout"],
            &body["perRequestTimeout"],
            &body["maxOutputTokens"]
        ),
        (&json!("10m0s"), &json!("2m0s"), &Value::Null)
    );
}

#[actix_web::test]
async fn if_match_guards_a_patch_as_it_does_a_providers() {
    let app = spawn_app().await;
    let (_, etag) = read(&app).await;
    let stale = app
        .req(Method::PATCH, PATH)
        .header("if-match", "\"gateway-config-99\"")
        .json(&json!({"metadata": "lost"}))
        .send()
        .await
        .unwrap();
    assert_error(stale, 412, "precondition_failed").await;
    let fresh = app
        .req(Method::PATCH, PATH)
        .header("if-match", &etag)
        .json(&json!({"metadata": "kept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    let next = fresh.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(next, etag);
    // The old tag names a version that is gone.
    let again = app
        .req(Method::PATCH, PATH)
        .header("if-match", &etag)
        .json(&json!({"metadata": "lost"}))
        .send()
        .await
        .unwrap();
    assert_error(again, 412, "precondition_failed").await;
    let any = app
        .req(Method::PATCH, PATH)
        .header("if-match", "*")
        .json(&json!({"maxOutputTokens": 9}))
        .send()
        .await
        .unwrap();
    assert_eq!(any.status(), 200);
    let (body, _) = read(&app).await;
    assert_eq!(
        (&body["metadata"], &body["maxOutputTokens"]),
        (&json!("kept"), &json!(9))
    );
}

#[actix_web::test]
async fn the_config_survives_a_restart_and_still_rules_the_calls() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let written = patch(
        &app,
        json!({"perRequestTimeout": "1s", "maxOutputTokens": 64, "metadata": "kept"}),
    )
    .await;
    let (_, etag) = read(&app).await;
    app.stop().await;

    let app = spawn_app_in(dir.path(), |_| {}).await;
    let (body, again) = read(&app).await;
    assert_eq!(body, written);
    assert_eq!(again, etag);
    // The routing snapshot took it at start: the next call is capped.
    let mock = Mock::start().await;
    app.create(&registered(
        "box",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    let res = call(&app, "/v1/chat/completions", chat("box:m")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(mock.last().body["max_tokens"], 64);
}
