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
