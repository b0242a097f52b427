//! Every mapping, both ways, from the fixtures in `tests/fixtures/translate/` (written from
//! the two formats' public references): requests, answers, stop reasons, tool choices, what
//! is refused or dropped, and upstream errors.

use serde_json::{Value, json};

use super::{Direction, Options, request, response};
use crate::gateway::error::Code;

const CHAT_REQUESTS: &str = include_str!("../../../tests/fixtures/translate/chat_requests.json");
const MESSAGES_REQUESTS: &str =
    include_str!("../../../tests/fixtures/translate/messages_requests.json");
const CHAT_RESPONSES: &str = include_str!("../../../tests/fixtures/translate/chat_responses.json");
const MESSAGES_RESPONSES: &str =
    include_str!("../../../tests/fixtures/translate/messages_responses.json");
const ERRORS: &str = include_str!("../../../tests/fixtures/translate/errors.json");

fn cases(fixture: &str) -> Vec<Value> {
    serde_json::from_str(fixture).unwrap()
}

fn translated(direction: Direction, case: &Value, lenient: bool) -> Result<Value, (Code, String)> {
    let supported: Vec<String> = case["supported"]
        .as_array()
        .map(|s| s.iter().map(|p| p.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    let options = Options {
        lenient,
        supported_params: &supported,
    };
    let body = serde_json::to_vec(&case["input"]).unwrap();
    match request(direction, &body, options) {
        Ok(t) => {
            let mut out: Value = serde_json::from_slice(&t.body).unwrap();
            out["(dropped)"] = json!(t.dropped);
            Ok(out)
        }
        Err(e) => Err((e.code, e.message)),
    }
}

/// Runs one request fixture: `output` translated, `refused` named (and, lenient, dropped
/// into `lenient`), `wrong` all named in one refusal.
fn request_case(direction: Direction, case: &Value) {
    let name = case["name"].as_str().unwrap();
    if let Some(output) = case.get("output") {
        let mut out =
            translated(direction, case, false).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(out["(dropped)"], json!([]), "{name}");
        out.as_object_mut().unwrap().remove("(dropped)");
        assert_eq!(&out, output, "{name}");
    }
    if let Some(refused) = case["refused"].as_array() {
        let (code, message) = translated(direction, case, false).unwrap_err();
        assert_eq!(code, Code::TranslationRefused, "{name}");
        for field in refused {
            assert!(
                message.contains(&format!("`{}`", field.as_str().unwrap())),
                "{name}: {field} in {message}"
            );
        }
        let mut out = translated(direction, case, true).unwrap();
        let mut dropped: Vec<Value> = out["(dropped)"].as_array().unwrap().clone();
        let mut want = refused.clone();
        let key = |v: &Value| v.as_str().unwrap().to_owned();
        dropped.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(dropped, want, "{name}");
        out.as_object_mut().unwrap().remove("(dropped)");
        assert_eq!(out, case["lenient"], "{name}");
    }
    if let Some(wrong) = case["wrong"].as_array() {
        for lenient in [false, true] {
            let (code, message) = translated(direction, case, lenient).unwrap_err();
            assert_eq!(code, Code::UntranslatableRequest, "{name}: {message}");
            for field in wrong {
                let field = format!("`{}`", field.as_str().unwrap());
                assert!(message.contains(&field), "{name}: {field} in {message}");
            }
        }
    }
}

#[test]
fn openai_requests_become_anthropic_messages() {
    for case in cases(CHAT_REQUESTS) {
        request_case(Direction::ChatToMessages, &case);
        for pair in case["cases"].as_array().into_iter().flatten() {
            let body = json!({"model": "m", "messages": [], "tool_choice": pair[0]});
            let out =
                translated(Direction::ChatToMessages, &json!({"input": body}), false).unwrap();
            assert_eq!(out["tool_choice"], pair[1], "{pair}");
        }
    }
}

#[test]
fn anthropic_requests_become_openai_chat_completions() {
    for case in cases(MESSAGES_REQUESTS) {
        request_case(Direction::MessagesToChat, &case);
        for pair in case["cases"].as_array().into_iter().flatten() {
            let body =
                json!({"model": "m", "max_tokens": 1, "messages": [], "tool_choice": pair[0]});
            let out =
                translated(Direction::MessagesToChat, &json!({"input": body}), false).unwrap();
            assert_eq!(out["tool_choice"], pair[1], "{pair}");
        }
    }
}

fn response_cases(direction: Direction, fixture: &str, reason: fn(Value) -> Value) {
    let answered = |input: &Value| {
        let body = serde_json::to_vec(input).unwrap();
        response(direction, &body, "caller-model", 1_700_000_000)
            .map(|b| serde_json::from_slice::<Value>(&b).unwrap())
    };
    for case in cases(fixture) {
        let name = case["name"].as_str().unwrap();
        if let Some(output) = case.get("output") {
            assert_eq!(&answered(&case["input"]).unwrap(), output, "{name}");
        }
        for pair in case["cases"].as_array().into_iter().flatten() {
            let out = answered(&reason(pair[0].clone())).unwrap();
            let got = match direction {
                Direction::MessagesToChat => &out["stop_reason"],
                Direction::ChatToMessages => &out["choices"][0]["finish_reason"],
            };
            assert_eq!(got, &pair[1], "{name}: {pair}");
        }
        for bad in case["bad"].as_array().into_iter().flatten() {
            let e = answered(bad).unwrap_err();
            assert_eq!(e.code, Code::UntranslatableResponse, "{bad}");
            assert_eq!(e.kind().status(), 502);
        }
    }
}

#[test]
fn openai_answers_become_anthropic_messages() {
    response_cases(
        Direction::MessagesToChat,
        CHAT_RESPONSES,
        |finish| json!({"choices": [{"message": {"content": "x"}, "finish_reason": finish}]}),
    );
}

#[test]
fn anthropic_answers_become_openai_chat_completions() {
    response_cases(
        Direction::ChatToMessages,
        MESSAGES_RESPONSES,
        |stop| json!({"content": [], "stop_reason": stop}),
    );
}

#[test]
fn bodies_that_are_no_json_object_are_refused_not_translated() {
    for direction in [Direction::ChatToMessages, Direction::MessagesToChat] {
        for body in [&b"[]"[..], b"nul", b"{\"model\":", b"\"x\""] {
            let e = request(direction, body, Options::default()).unwrap_err();
            assert_eq!(e.code, Code::InvalidJson);
        }
        assert!(response(direction, b"{", "m", 0).is_err());
    }
}

#[test]
fn upstream_errors_come_in_the_callers_shape() {
    for case in cases(ERRORS) {
        let direction = match case["direction"].as_str().unwrap() {
            "chat-to-messages" => Direction::ChatToMessages,
            _ => Direction::MessagesToChat,
        };
        let body = match case["raw"].as_str() {
            Some(raw) => raw.as_bytes().to_vec(),
            None => serde_json::to_vec(&case["input"]).unwrap(),
        };
        let status = case["status"].as_u64().unwrap() as u16;
        let out: Value = serde_json::from_slice(&super::error(direction, status, &body)).unwrap();
        assert_eq!(out, case["output"], "{}", case["name"]);
    }
}

#[test]
fn a_translation_is_needed_only_between_chat_completions_and_messages() {
    use crate::domain::surface::Surface::*;
    let only = |s| move |x| x == s;
    assert_eq!(
        Direction::needed(ChatCompletions, only(Messages)),
        Some(Direction::ChatToMessages)
    );
    assert_eq!(
        Direction::needed(Messages, only(ChatCompletions)),
        Some(Direction::MessagesToChat)
    );
    assert_eq!(Direction::needed(Messages, |_| true), None);
    assert_eq!(Direction::needed(Embeddings, only(Messages)), None);
    assert_eq!(Direction::needed(CountTokens, only(ChatCompletions)), None);
    for d in [Direction::ChatToMessages, Direction::MessagesToChat] {
        assert_ne!(d.caller().format(), d.upstream().format());
    }
}

mod odd_input {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::super::stream::Translator;
    use super::super::{Direction, Options, error, request, response};

    /// JSON shaped like the two formats' bodies and events — their field names and type
    /// names, nested any which way — so the mappings' every branch meets what it does not
    /// expect.
    fn shaped() -> impl Strategy<Value = Value> {
        let words = prop::sample::select(vec![
            "user",
            "assistant",
            "system",
            "tool",
            "developer",
            "text",
            "image",
            "image_url",
            "tool_use",
            "tool_result",
            "function",
            "auto",
            "any",
            "none",
            "required",
            "base64",
            "url",
            "data:image/png;base64,AA",
            "https://x/y.png",
            "{",
            "{}",
            "[1]",
            "",
            "stop",
            "length",
            "tool_calls",
            "end_turn",
            "message_start",
            "content_block_start",
            "content_block_delta",
            "input_json_delta",
            "text_delta",
            "message_delta",
            "error",
            "enabled",
            "disabled",
            "low",
            "high",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (0u64..5000).prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            words.prop_map(|w| Value::String(w.to_owned())),
        ];
        let keys = prop::sample::select(vec![
            "model",
            "messages",
            "role",
            "content",
            "type",
            "text",
            "tool_calls",
            "tool_call_id",
            "id",
            "name",
            "function",
            "arguments",
            "tools",
            "tool_choice",
            "parameters",
            "system",
            "image_url",
            "url",
            "source",
            "media_type",
            "data",
            "input",
            "input_schema",
            "tool_use_id",
            "max_tokens",
            "max_completion_tokens",
            "stream",
            "stop",
            "stop_sequences",
            "user",
            "metadata",
            "user_id",
            "n",
            "choices",
            "message",
            "delta",
            "finish_reason",
            "stop_reason",
            "usage",
            "prompt_tokens",
            "index",
            "partial_json",
            "content_block",
            "error",
            "thinking",
            "budget_tokens",
            "reasoning_effort",
            "parallel_tool_calls",
            "disable_parallel_tool_use",
            "reasoning_content",
        ]);
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|pairs| {
                    Value::Object(
                        pairs
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<_, _>>(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn no_input_makes_a_translation_panic(value in shaped(), lenient in any::<bool>(), cut in 0usize..64) {
            let bytes = serde_json::to_vec(&value).unwrap();
            let supported = vec!["temperature".to_owned()];
            for direction in [Direction::ChatToMessages, Direction::MessagesToChat] {
                let options = Options { lenient, supported_params: &supported };
                if let Ok(t) = request(direction, &bytes, options) {
                    prop_assert!(serde_json::from_slice::<Value>(&t.body).is_ok());
                }
                if let Ok(out) = response(direction, &bytes, "m", 0) {
                    prop_assert!(serde_json::from_slice::<Value>(&out).is_ok());
                }
                prop_assert!(serde_json::from_slice::<Value>(&error(direction, 400, &bytes)).is_ok());
                let event = format!("event: {}\ndata: {value}\n\ndata: [DONE]\n\n",
                    value.get("type").and_then(Value::as_str).unwrap_or("x"));
                let (a, b) = event.as_bytes().split_at(cut.min(event.len()));
                let mut t = Translator::new(direction, "m", lenient, 0);
                let mut out = t.feed(a);
                out.extend(t.feed(b));
                out.extend(t.finish());
                prop_assert!(std::str::from_utf8(&out).is_ok());
            }
        }
    }
}
