//! What the data-plane tests share: a provider registered at a mock upstream, a chat call, an
//! upstream's failure, a key added, and the error shape of each format asserted.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp};
use crate::upstream::Reply;

pub fn registered(slug: &str, base_url: &str, models: &[&str], surfaces: Value) -> Value {
    json!({
        "providerId": slug, "name": slug, "baseUrl": base_url,
        "models": models.iter().map(|m| json!({"modelId": m})).collect::<Vec<_>>(),
        "supportedApiSurfaces": surfaces,
    })
}

/// A port on loopback that nothing listens on (bound, then let go): a provider there is
/// unreachable without any traffic leaving the machine.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A chat completion for `model`, as a client sends it.
pub fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// An upstream error answer; its body carries a field the client must never see.
pub fn failing(status: u16, headers: Vec<(&'static str, &'static str)>) -> Reply {
    Reply::Json {
        status,
        headers,
        body: json!({"error": {"message": format!("upstream says {status}"), "secret": "upstream-body"}}),
    }
}

pub fn header<'r>(res: &'r reqwest::Response, name: &str) -> &'r str {
    res.headers()[name].to_str().unwrap()
}

/// One chunk of a streamed chat completion that carries content.
pub const CONTENT_CHUNK: &[u8] = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";

pub async fn call(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn add_key(app: &TestApp, provider: &str, value: &str) -> Value {
    let res = app
        .post_json(
            "/provider-keys",
            &json!({"providerId": provider, "name": "k", "value": value}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Asserts an OpenAI-shaped error and answers its `error` object.
pub async fn openai_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status(), status);
    assert!(res.headers().contains_key("x-modelgate-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(body["error"]["type"].is_string(), "{body}");
    body["error"].clone()
}

pub async fn anthropic_error(res: reqwest::Response, status: u16, kind: &str) -> Value {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    body["error"].clone()
}
