//! The attempt's time covers a stream's head and its first content, and a stream that keeps
//! trickling after it is cut at `gateway.max_stream_secs`: an upstream cannot hold a caller, or
//! a failover, for as long as it likes by sending a byte now and then.

use std::time::Duration;

use serde_json::json;

use crate::helpers::data_plane::registered;
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app_with};
use crate::raw::{Behaviour, raw_upstream};

async fn provider(app: &TestApp, slug: &str, base: &str) {
    app.create(&registered(slug, base, &["m"], json!(null)))
        .await;
}

async fn stream_call(app: &TestApp, model: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"model": model, "stream": true, "messages": []}))
        // Only a broken build waits this long: the gateway's limits are 1 s here.
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the gateway answered")
}

#[actix_web::test]
async fn keep_alives_before_the_first_content_do_not_outlast_the_attempts_time() {
    let app = spawn_app_with(|s| s.gateway.request_timeout_secs = 1).await;
    let (slow, _) = raw_upstream(vec![Behaviour::Trickle { content: false }]).await;
    let (fast, _) = raw_upstream(vec![Behaviour::Answer]).await;
    provider(&app, "slow", &slow).await;
    let res = stream_call(&app, "slow:m").await;
    assert_eq!(res.status(), 504);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_timeout", "{body}");

    // With another provider of the model, the call fails over to it.
    provider(&app, "fast", &fast).await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"model": "slow:m", "models": ["fast:m"], "stream": true, "messages": []}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-modelgate-provider"], "fast");
    assert_eq!(res.headers()["x-modelgate-attempts"], "2");
}

#[actix_web::test]
async fn a_stream_that_trickles_forever_is_cut_at_max_stream_secs() {
    let app = spawn_app_with(|s| s.gateway.max_stream_secs = 1).await;
    let (base, _) = raw_upstream(vec![Behaviour::Trickle { content: true }]).await;
    provider(&app, "trickle", &base).await;
    let res = stream_call(&app, "trickle:m").await;
    assert_eq!(res.status(), 200);
    let body = String::from_utf8(res.bytes().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("\"content\":\"x\""), "{body}");
    let last = body.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.contains("stream_too_long"), "{last}");
}
