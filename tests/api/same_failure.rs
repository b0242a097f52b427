//! When every attempt of a call failed the same way, the client hears that failure as one
//! attempt would have told it — the connection error, the upstream's own answer, the missing
//! key — not a generic "none of 2 attempts succeeded"; mixed failures still answer
//! `all_attempts_failed`, naming the last telling cause in `message` (all an SDK shows).

use serde_json::{Value, json};

use crate::helpers::data_plane::{add_key, call, closed_port, registered};
use crate::helpers::{ADMIN_TOKEN, TestApp, merged, spawn_app};
use crate::upstream::{Mock, Reply};

async fn chat_call(app: &TestApp, model: &str) -> reqwest::Response {
    call(
        app,
        "/v1/chat/completions",
        json!({"model": model, "messages": []}),
    )
    .await
}

fn provider(slug: &str, base: &str, settings: Value) -> Value {
    merged(registered(slug, base, &["m"], json!(null)), settings)
}

fn dead_port() -> String {
    format!("http://127.0.0.1:{}", closed_port())
}

#[actix_web::test]
async fn a_retried_unreachable_provider_answers_as_unreachable() {
    let app = spawn_app().await;
    let retry = json!({"network": {"maxRetries": 1, "retryBackoffInitialMs": 1,
                                   "retryBackoffMaxMs": 2}});
    app.create(&provider("dead", &dead_port(), retry)).await;
    let res = chat_call(&app, "dead:m").await;
    assert_eq!(res.status(), 502);
    assert_eq!(res.headers()["x-modelgate-attempts"], "2");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_unreachable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{body}"
    );
}

#[actix_web::test]
async fn two_keys_answering_500_pass_on_the_upstreams_own_answer() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    for _ in 0..2 {
        mock.then(Reply::Json {
            status: 500,
            headers: vec![],
            body: json!({"error": {"message": "the model crashed", "type": "server_error"}}),
        });
    }
    app.create(&provider("crashy", &mock.base, json!({}))).await;
    add_key(&app, "crashy", "sk-first-000000000001").await;
    add_key(&app, "crashy", "sk-second-00000000002").await;
    let res = chat_call(&app, "crashy:m").await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["x-modelgate-attempts"], "2");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["message"], "the model crashed", "{body}");
    assert_eq!(mock.seen().len(), 2);
}

#[actix_web::test]
async fn two_unset_env_keys_answer_no_usable_key() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&provider("envy", &mock.base, json!({}))).await;
    add_key(&app, "envy", "env.MODELGATE_TEST_UNSET_ONE").await;
    add_key(&app, "envy", "env.MODELGATE_TEST_UNSET_TWO").await;
    let res = chat_call(&app, "envy:m").await;
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_usable_key", "{body}");
    assert!(mock.seen().is_empty());
}

#[actix_web::test]
async fn mixed_failures_name_the_last_cause_in_the_message() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    mock.then(Reply::Json {
        status: 500,
        headers: vec![],
        body: json!({"error": {"message": "boom"}}),
    });
    app.create(&provider("dead", &dead_port(), json!({}))).await;
    app.create(&provider("crashy", &mock.base, json!({}))).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"model": "dead:m", "models": ["crashy:m"], "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "all_attempts_failed", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("the last: provider `crashy` answered 500"),
        "{message}"
    );
}
