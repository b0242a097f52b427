//! Streams translated from captures written from the formats' references
//! (`tests/fixtures/translate/*_stream.sse`): the events each becomes, the same whatever the
//! reads the stream arrives in — split at every byte, one byte at a time, in CRLF — with tool
//! arguments rebuilt whole, and error events and early ends re-shaped.

use serde_json::{Value, json};

use super::Translator;
use crate::gateway::translate::Direction;

const OPENAI: &str = include_str!("../../../../tests/fixtures/translate/openai_stream.sse");
const OPENAI_AS_ANTHROPIC: &str =
    include_str!("../../../../tests/fixtures/translate/openai_stream_as_anthropic.json");
const ANTHROPIC: &str = include_str!("../../../../tests/fixtures/translate/anthropic_stream.sse");
const ANTHROPIC_AS_OPENAI: &str =
    include_str!("../../../../tests/fixtures/translate/anthropic_stream_as_openai.json");

/// The events of a translated stream: (event name, data), data `[DONE]` as a string.
fn events(bytes: &[u8]) -> Vec<(Option<String>, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text:?}");
    text.split_terminator("\n\n")
        .map(|event| {
            let (mut name, mut data) = (None, Value::Null);
            for line in event.lines() {
                match line.split_once(": ") {
                    Some(("event", v)) => name = Some(v.to_owned()),
                    Some(("data", "[DONE]")) => data = json!("[DONE]"),
                    Some(("data", v)) => data = serde_json::from_str(v).unwrap(),
                    _ => panic!("odd line {line:?}"),
                }
            }
            (name, data)
        })
        .collect()
}

fn translated(direction: Direction, reads: &[&[u8]], include_usage: bool) -> Vec<u8> {
    let mut t = Translator::new(direction, "caller-model", include_usage, 1_700_000_000);
    let mut out = Vec::new();
    for read in reads {
        out.extend(t.feed(read));
    }
    out.extend(t.finish());
    out
}

/// The stream translated whole, then split at every byte into two reads, then one byte a
/// read, then with CRLF line endings: always the same bytes out.
fn the_same_in_every_split(direction: Direction, input: &str, include_usage: bool) -> Vec<u8> {
    let bytes = input.as_bytes();
    let whole = translated(direction, &[bytes], include_usage);
    for at in 0..=bytes.len() {
        let (a, b) = bytes.split_at(at);
        assert_eq!(
            translated(direction, &[a, b], include_usage),
            whole,
            "split at {at}"
        );
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(translated(direction, &singles, include_usage), whole);
    let crlf = input.replace('\n', "\r\n");
    let crlf: Vec<&[u8]> = crlf.as_bytes().chunks(7).collect();
    assert_eq!(translated(direction, &crlf, include_usage), whole);
    whole
}

#[test]
fn openai_chunks_become_anthropic_events_in_every_split() {
    let out = the_same_in_every_split(Direction::MessagesToChat, OPENAI, false);
    let want: Vec<(String, Value)> = serde_json::from_str(OPENAI_AS_ANTHROPIC).unwrap();
    let got = events(&out);
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for ((name, data), (want_name, want_data)) in got.iter().zip(&want) {
        assert_eq!(name.as_deref(), Some(want_name.as_str()));
        assert_eq!(data, want_data);
    }
    // Each tool's arguments, put back together, are its input.
    for (index, input) in [(2, json!({"city": "Paris"})), (3, json!({"city": "Rome"}))] {
        let json: String = got
            .iter()
            .filter(|(_, d)| d["index"] == index && d["delta"]["type"] == "input_json_delta")
            .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), input);
    }
}

#[test]
fn anthropic_events_become_openai_chunks_in_every_split() {
    let want: Vec<Value> = serde_json::from_str(ANTHROPIC_AS_OPENAI).unwrap();
    let out = the_same_in_every_split(Direction::ChatToMessages, ANTHROPIC, true);
    let got = events(&out);
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for ((name, data), want) in got.iter().zip(&want) {
        assert_eq!(name, &None);
        if want == "[DONE]" {
            assert_eq!(data, want);
            continue;
        }
        assert_eq!(data["id"], "msg_s1");
        assert_eq!(data["object"], "chat.completion.chunk");
        assert_eq!(data["model"], "caller-model");
        assert_eq!(data["created"], 1_700_000_000);
        match want.get("usage") {
            Some(usage) => {
                assert_eq!(data["choices"], json!([]));
                assert_eq!(&data["usage"], usage);
            }
            None => {
                let choice = &data["choices"][0];
                assert_eq!(choice["delta"], want["delta"], "{data}");
                assert_eq!(choice["finish_reason"], want["finish_reason"], "{data}");
            }
        }
    }
    // Without `include_usage`, no usage chunk.
    let out = translated(Direction::ChatToMessages, &[ANTHROPIC.as_bytes()], false);
    let got = events(&out);
    assert_eq!(got.len(), want.len() - 1);
    assert!(got.iter().all(|(_, d)| d.get("usage").is_none()));
}

#[test]
fn error_events_are_reshaped_and_a_stream_cut_short_gets_no_end() {
    // An Anthropic error event to an OpenAI caller, and the gateway's OpenAI error event (a
    // stream that ended early) to an Anthropic caller.
    let overloaded = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let got = events(&translated(Direction::ChatToMessages, &[overloaded], true));
    assert_eq!(
        got,
        [(
            None,
            json!({"error": {"message": "Overloaded", "type": "api_error",
                                  "code": "overloaded_error", "param": null}})
        )]
    );
    let ended = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: {\"error\":{\"message\":\"the stream stopped\",\"type\":\"api_error\",\"code\":\"stream_ended_early\"}}\n\n";
    let got = events(&translated(Direction::MessagesToChat, &[ended], false));
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        got[3].1,
        json!({"type": "error", "error": {"type": "api_error", "message": "the stream stopped"}})
    );
    // A last event without its blank line is still read; odd data tells nothing.
    let unclosed = b"data: not json\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}";
    let got = events(&translated(Direction::MessagesToChat, &[unclosed], false));
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].1["delta"]["text"], "x");
}

#[test]
fn an_openai_stream_with_only_done_still_makes_a_whole_anthropic_message() {
    let got = events(&translated(
        Direction::MessagesToChat,
        &[b"data: [DONE]\n\n"],
        false,
    ));
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_deref().unwrap()).collect();
    assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
    assert_eq!(got[1].1["delta"]["stop_reason"], "end_turn");
}

#[test]
fn tool_arguments_split_at_every_character_come_back_whole_both_ways() {
    let arguments = r#"{"city": "Zürich", "days": [1, 2], "note": "a \"quoted\" word"}"#;
    let input: Value = serde_json::from_str(arguments).unwrap();
    let cuts = arguments
        .char_indices()
        .map(|(i, _)| i)
        .chain([arguments.len()]);
    for at in cuts {
        let (a, b) = arguments.split_at(at);
        // OpenAI's deltas to Anthropic's input_json_delta.
        let call = |id: Option<&str>, part: &str| {
            let mut call = json!({"index": 0, "function": {"arguments": part}});
            if let Some(id) = id {
                call["id"] = json!(id);
                call["function"]["name"] = json!("f");
            }
            format!(
                "data: {}\n\n",
                json!({"choices": [{"delta": {"tool_calls": [call]}}]})
            )
        };
        let stream = [
            call(Some("call_1"), a),
            call(None, b),
            "data: [DONE]\n\n".into(),
        ]
        .concat();
        let got = events(&translated(
            Direction::MessagesToChat,
            &[stream.as_bytes()],
            false,
        ));
        let json: String = got
            .iter()
            .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
            .map(|(_, d)| d["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&json).unwrap(),
            input,
            "cut at {at}"
        );
        let start = got
            .iter()
            .find(|(n, _)| n.as_deref() == Some("content_block_start"));
        assert_eq!(start.unwrap().1["content_block"]["id"], "call_1");
        // Anthropic's input_json_delta to OpenAI's arguments.
        let delta = |part: &str| {
            let data = json!({"type": "content_block_delta", "index": 0,
                              "delta": {"type": "input_json_delta", "partial_json": part}});
            format!("event: content_block_delta\ndata: {data}\n\n")
        };
        let start = json!({"type": "content_block_start", "index": 0,
                           "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}});
        let stream = [
            format!("event: content_block_start\ndata: {start}\n\n"),
            delta(a),
            delta(b),
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".into(),
        ]
        .concat();
        let got = events(&translated(
            Direction::ChatToMessages,
            &[stream.as_bytes()],
            false,
        ));
        let calls: Vec<&Value> = got
            .iter()
            .filter_map(|(_, d)| d["choices"][0]["delta"]["tool_calls"].get(0))
            .collect();
        assert_eq!(calls[0]["id"], "toolu_1");
        let json: String = calls
            .iter()
            .map(|c| c["function"]["arguments"].as_str().unwrap())
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&json).unwrap(),
            input,
            "cut at {at}"
        );
    }
}
