//! The official Python and JS SDKs through a translation (issue 24): the Anthropic SDK to a provider
//! declared as serving OpenAI chat completions only, and the OpenAI SDK to one serving
//! Anthropic messages only — at the mock, where the reply and usage counts are known exactly
//! (in what the SDKs read and on the usage events), and (Anthropic SDK) at llama.cpp's OpenAI
//! route.

use serde_json::{Value, json};

use crate::{Gateway, TOKEN, UPSTREAM_KEY, assert_ran, llama, mock, run_sdk_check, setup};

fn only(provider_id: &str, base_url: &str, model: &str, format: &str, surface: &str) -> Value {
    json!({
        "providerId": provider_id, "name": provider_id, "baseUrl": base_url,
        "supportedApiSurfaces": [{"format": format, "surface": surface}],
        "models": [{"modelId": model}],
    })
}

const ANTHROPIC_SDK: &[&str] = &[
    "anthropic messages to an openai-only provider",
    "anthropic messages stream to an openai-only provider",
];
const ANTHROPIC_0_SDK: &[&str] = &[
    "anthropic 0.x messages to an openai-only provider",
    "anthropic 0.x messages stream to an openai-only provider",
];
const OPENAI_SDK: &[&str] = &[
    "openai chat to an anthropic-only provider",
    "openai chat stream to an anthropic-only provider",
];

#[actix_web::test]
#[ignore = "needs the SDKs from tests/e2e/setup; scripts/test runs it"]
async fn the_sdks_reach_providers_of_the_other_format_with_the_upstreams_usage() {
    let python = setup("MODELGATE_E2E_PYTHON");
    let upstream = mock::Mock::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path(), Some(TOKEN));
    for (id, format, surface) in [
        ("chat-only", "openai", "chat-completions"),
        ("messages-only", "anthropic", "messages"),
    ] {
        gateway
            .post("/providers", only(id, &upstream.base, "m", format, surface))
            .await;
        gateway
            .post(
                "/provider-keys",
                json!({"providerId": id, "name": "upstream", "value": UPSTREAM_KEY}),
            )
            .await;
    }
    let env = [
        ("MG_OPENAI_ONLY", "chat-only:m"),
        ("MG_ANTHROPIC_ONLY", "messages-only:m"),
        ("MG_EXACT_REPLY", mock::REPLY),
    ];
    let py = run_sdk_check(&gateway, &python, "translate_check.py", &env).await;
    assert_ran(&py, ANTHROPIC_SDK);
    assert_ran(&py, OPENAI_SDK);
    let js = run_sdk_check(&gateway, "node", "translate_check.mjs", &env).await;
    assert_ran(&js, ANTHROPIC_SDK);
    assert_ran(&js, ANTHROPIC_0_SDK);
    assert_ran(&js, OPENAI_SDK);
    // Each call reached the provider in its own format, with its own key's header: four from
    // Python, six from JS (two Anthropic generations).
    let bearer = format!("Bearer {UPSTREAM_KEY}");
    let seen = upstream.seen();
    assert_eq!(seen.len(), 4 + 6);
    for call in &seen {
        let h = &call.headers;
        match call.path.as_str() {
            "/v1/chat/completions" => assert_eq!(h.get("authorization"), Some(&bearer)),
            "/v1/messages" => {
                assert_eq!(h.get("x-api-key").map(String::as_str), Some(UPSTREAM_KEY))
            }
            other => panic!("{other} reached the mock"),
        }
    }
    // Each call's usage event holds the mock's own counts: a word a token of the system prompt
    // and the message (2 + 5), and of the reply; its stop reason is the provider's.
    let events = usage_events(&gateway, seen.len()).await;
    for e in &events {
        let stop = match e["provider"].as_str() {
            Some("chat-only") => "stop",
            Some("messages-only") => "end_turn",
            other => panic!("an event of {other:?}: {e}"),
        };
        assert_eq!(
            (&e["inputTokens"], &e["outputTokens"], &e["tokensKnown"]),
            (
                &json!(7),
                &json!(mock::REPLY.split(' ').count()),
                &json!(true)
            ),
            "{e}"
        );
        assert_eq!(
            (&e["stopReason"], &e["statusCode"]),
            (&json!(stop), &json!(200)),
            "{e}"
        );
    }
    let streamed = events.iter().filter(|e| e["isStreaming"] == true).count();
    assert_eq!(streamed, seen.len() / 2, "{events:?}");
    upstream.stop().await;
}

/// The gateway's usage events once there are `n` (they are written in batches).
async fn usage_events(gateway: &Gateway, n: usize) -> Vec<Value> {
    let url = format!(
        "{}/usage?startTime=2020-01-01T00:00:00Z&include=timing&limit=100",
        gateway.base
    );
    for _ in 0..100 {
        let list: Value = reqwest::Client::new()
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = list["aiGatewayUsage"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} usage events at {url}");
}

#[actix_web::test]
#[ignore = "needs the SDKs and llama-server from tests/e2e/setup; scripts/test runs it"]
async fn the_anthropic_sdk_reaches_llama_servers_openai_route_through_a_translation() {
    let python = setup("MODELGATE_E2E_PYTHON");
    let model_server = llama::LlamaServer::start();
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(dir.path(), Some(TOKEN));
    gateway
        .post(
            "/providers",
            only(
                "llama-chat",
                &model_server.base,
                llama::ALIAS,
                "openai",
                "chat-completions",
            ),
        )
        .await;
    let model = format!("llama-chat:{}", llama::ALIAS);
    let py = run_sdk_check(
        &gateway,
        &python,
        "translate_check.py",
        &[("MG_OPENAI_ONLY", model.as_str())],
    )
    .await;
    assert_ran(&py, ANTHROPIC_SDK);
    let js = run_sdk_check(
        &gateway,
        "node",
        "translate_check.mjs",
        &[("MG_OPENAI_ONLY", model.as_str())],
    )
    .await;
    assert_ran(&js, ANTHROPIC_SDK);
    assert_ran(&js, ANTHROPIC_0_SDK);
}
