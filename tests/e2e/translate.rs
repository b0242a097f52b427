//! The official Python and JS SDKs through a translation (issue 24): the Anthropic SDK to a provider
//! declared as serving OpenAI chat completions only, and the OpenAI SDK to one serving
//! Anthropic messages only — at the mock, where the reply and usage counts are known exactly
//! (in what the SDKs read and on the usage events), and (Anthropic SDK) at llama.cpp's OpenAI
//! route. At the mock each SDK also calls tools, streamed and not, the model choosing and the
//! caller naming the tool, and sends the result back with the call's id.

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

/// The tools the scripts offer: each with the arguments the mock makes of its schema (each
/// property's first example) and the result the script sends back. The second is the one a
/// script names, so a call of the first would show the named choice lost.
fn tools() -> Value {
    json!([
        {"name": "get_weather", "description": "The weather now in a city",
         "schema": {"type": "object", "required": ["city"], "properties": {
             "city": {"type": "string", "description": "The city's name", "examples": ["Paris"]}}},
         "arguments": {"city": "Paris"}, "result": "18 degrees and sunny"},
        {"name": "get_time", "description": "The local time in a time zone",
         "schema": {"type": "object", "required": ["zone"], "properties": {
             "zone": {"type": "string", "examples": ["Europe/Paris"]},
             "format": {"type": "string", "enum": ["12h", "24h"], "examples": ["24h"]}}},
         "arguments": {"zone": "Europe/Paris", "format": "24h"}, "result": "nine in the morning"},
    ])
}

/// The tool checks a script runs for one SDK (`label`) towards a provider of the other format.
fn tool_checks(label: &str, target: &str) -> Vec<String> {
    let mut names = Vec::new();
    for stream in ["", " stream"] {
        for choice in ["auto", "named"] {
            for turn in ["call", "result"] {
                names.push(format!(
                    "{label} tool {turn}{stream} ({choice}) to an {target}-only provider"
                ));
            }
        }
    }
    names
}

fn assert_ran_tools(summary: &Value, label: &str, target: &str) {
    let names = tool_checks(label, target);
    assert_ran(
        summary,
        &names.iter().map(String::as_str).collect::<Vec<_>>(),
    );
}

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
    let (tools, answer) = (tools().to_string(), mock::answer_text("{id}", "{result}"));
    let env = [
        ("MG_OPENAI_ONLY", "chat-only:m"),
        ("MG_ANTHROPIC_ONLY", "messages-only:m"),
        ("MG_EXACT_REPLY", mock::REPLY),
        ("MG_TOOLS", tools.as_str()),
        ("MG_TOOL_ANSWER", answer.as_str()),
    ];
    let py = run_sdk_check(&gateway, &python, "translate_check.py", &env).await;
    assert_ran(&py, ANTHROPIC_SDK);
    assert_ran(&py, OPENAI_SDK);
    assert_ran_tools(&py, "anthropic", "openai");
    assert_ran_tools(&py, "openai", "anthropic");
    let js = run_sdk_check(&gateway, "node", "translate_check.mjs", &env).await;
    assert_ran(&js, ANTHROPIC_SDK);
    assert_ran(&js, ANTHROPIC_0_SDK);
    assert_ran(&js, OPENAI_SDK);
    assert_ran_tools(&js, "anthropic", "openai");
    assert_ran_tools(&js, "anthropic 0.x", "openai");
    assert_ran_tools(&js, "openai", "anthropic");
    // Each call reached the provider in its own format, with its own key's header: two text
    // calls and eight tool turns for each SDK, two from Python, three from JS (two Anthropic
    // generations).
    let bearer = format!("Bearer {UPSTREAM_KEY}");
    let seen = upstream.seen();
    assert_eq!(seen.len(), (2 + 3) * (2 + 8));
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
    assert_tool_requests(&seen);
    // Each call's usage event holds the counts and stop reason the mock answered with.
    let events = usage_events(&gateway, seen.len()).await;
    let mut recorded: Vec<(String, mock::Answered)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["statusCode"], json!(200), "{e}");
            assert_eq!(e["tokensKnown"], json!(true), "{e}");
            let stop = ["stop", "tool_calls", "end_turn", "tool_use"]
                .into_iter()
                .find(|s| e["stopReason"] == *s)
                .unwrap_or_else(|| panic!("an unexpected stop reason: {e}"));
            let answered = mock::Answered {
                input: e["inputTokens"].as_u64().unwrap(),
                output: e["outputTokens"].as_u64().unwrap(),
                stop,
                streamed: e["isStreaming"] == true,
            };
            (e["provider"].as_str().unwrap().to_owned(), answered)
        })
        .collect();
    let mut answered: Vec<(String, mock::Answered)> = seen
        .iter()
        .map(|s| {
            let provider = match s.path.as_str() {
                "/v1/chat/completions" => "chat-only",
                _ => "messages-only",
            };
            (provider.to_owned(), s.answered.clone().unwrap())
        })
        .collect();
    recorded.sort();
    answered.sort();
    assert_eq!(recorded, answered);
    let calls = answered
        .iter()
        .filter(|(_, a)| ["tool_calls", "tool_use"].contains(&a.stop))
        .count();
    assert_eq!(calls, 5 * 4, "{answered:?}");
    upstream.stop().await;
}

/// The translated requests that carried tools reached the mock in its own format: the tools
/// with their schemas as sent, the choice mapped, and each result after the call it answers.
fn assert_tool_requests(seen: &[mock::Seen]) {
    let fixture = tools();
    let fixture = fixture.as_array().unwrap();
    let openai_tools: Vec<Value> = fixture
        .iter()
        .map(|t| {
            json!({"type": "function", "function": {"name": t["name"],
                "description": t["description"], "parameters": t["schema"]}})
        })
        .collect();
    let anthropic_tools: Vec<Value> = fixture
        .iter()
        .map(|t| json!({"name": t["name"], "description": t["description"], "input_schema": t["schema"]}))
        .collect();
    let named = &fixture[1]["name"];
    let (mut choices, mut results) = (Vec::new(), 0);
    for call in seen.iter().filter(|s| s.body.get("tools").is_some()) {
        let (body, last) = (
            &call.body,
            call.body["messages"].as_array().unwrap().last().unwrap(),
        );
        if call.path == "/v1/chat/completions" {
            assert_eq!(body["tools"], json!(openai_tools), "{body}");
            if last["role"] == "tool" {
                let assistant = &body["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .rev()
                    .nth(1)
                    .unwrap();
                assert_eq!(
                    assistant["tool_calls"][0]["id"], last["tool_call_id"],
                    "{body}"
                );
                results += 1;
            } else {
                choices.push(body["tool_choice"].clone());
            }
        } else {
            assert_eq!(call.path, "/v1/messages");
            assert_eq!(body["tools"], json!(anthropic_tools), "{body}");
            let result = last["content"]
                .as_array()
                .and_then(|blocks| blocks.iter().find(|b| b["type"] == "tool_result"));
            if let Some(result) = result {
                let assistant = &body["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .rev()
                    .nth(1)
                    .unwrap();
                let used = assistant["content"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|b| b["type"] == "tool_use");
                assert_eq!(
                    used.map(|b| &b["id"]),
                    Some(&result["tool_use_id"]),
                    "{body}"
                );
                results += 1;
            } else {
                choices.push(body["tool_choice"].clone());
            }
        }
    }
    // Python and both JS Anthropic generations to chat-only, Python and JS OpenAI to messages-only.
    let count = |choice: Value| choices.iter().filter(|c| **c == choice).count();
    assert_eq!(count(json!("auto")), 3 * 2, "{choices:?}");
    assert_eq!(
        count(json!({"type": "function", "function": {"name": named}})),
        3 * 2,
        "{choices:?}"
    );
    assert_eq!(count(json!({"type": "auto"})), 2 * 2, "{choices:?}");
    assert_eq!(
        count(json!({"type": "tool", "name": named})),
        2 * 2,
        "{choices:?}"
    );
    assert_eq!((choices.len(), results), (20, 20));
}

/// The gateway's usage events once there are `n` (they are written in batches).
async fn usage_events(gateway: &Gateway, n: usize) -> Vec<Value> {
    let url = format!(
        "{}/usage?startTime=2020-01-01T00:00:00Z&include=timing&includeRetries=true&limit=100",
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
    // SmolLM2's chat template renders no tools and llama-server then never parses a call (with
    // `tool_choice` required or named neither), so the tools are only offered: the translated
    // definitions must be taken and the reply be a message. The calls themselves are checked
    // at the mock.
    let tools = tools().to_string();
    let env = [
        ("MG_OPENAI_ONLY", model.as_str()),
        ("MG_TOOLS", tools.as_str()),
    ];
    let py = run_sdk_check(&gateway, &python, "translate_check.py", &env).await;
    assert_ran(&py, ANTHROPIC_SDK);
    assert_ran(&py, &["anthropic tools offered to an openai-only provider"]);
    let js = run_sdk_check(&gateway, "node", "translate_check.mjs", &env).await;
    assert_ran(&js, ANTHROPIC_SDK);
    assert_ran(&js, ANTHROPIC_0_SDK);
    assert_ran(
        &js,
        &[
            "anthropic tools offered to an openai-only provider",
            "anthropic 0.x tools offered to an openai-only provider",
        ],
    );
}
