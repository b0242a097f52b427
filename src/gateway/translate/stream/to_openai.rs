//! Anthropic's stream of events as OpenAI chat-completion chunks: text and thinking deltas as
//! `content` and `reasoning_content`, a `tool_use` block as a tool call (its id and name in
//! the first chunk, `input_json_delta` parts as `arguments`), `message_delta` as the chunk
//! with `finish_reason`, and — when the caller asked — the usage chunk before `[DONE]`.

use serde_json::{Value, json};

use super::super::Direction;
use super::super::common::{count, finish_reason};
use super::{error_body, openai_chunk};

pub(super) struct State {
    model: String,
    include_usage: bool,
    created: u64,
    id: String,
    /// Anthropic's block index → OpenAI's tool call index, for tool_use blocks.
    tools: Vec<(u64, u64)>,
    input: Value,
    output: u64,
    ended: bool,
    /// What follows a text delta's text in its chunk, made once the id is known.
    text_tail: Vec<u8>,
}

impl State {
    pub(super) fn new(model: &str, include_usage: bool, created: u64) -> State {
        State {
            model: model.to_owned(),
            include_usage,
            created,
            id: "chatcmpl-modelgate".into(),
            tools: Vec::new(),
            input: Value::Null,
            output: 0,
            ended: false,
            text_tail: Vec::new(),
        }
    }

    pub(super) fn event(&mut self, name: Option<&str>, data: &Value, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        let kind = data.get("type").and_then(Value::as_str).or(name);
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            Some("message_start") => {
                let message = &data["message"];
                if let Some(id) = message.get("id").and_then(Value::as_str) {
                    self.id = id.to_owned();
                    self.text_tail.clear();
                }
                self.input = message.get("usage").cloned().unwrap_or(Value::Null);
                self.delta(out, json!({"role": "assistant", "content": ""}), None);
            }
            Some("content_block_start") => {
                let block = &data["content_block"];
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let at = self.tools.len() as u64;
                        self.tools.push((index, at));
                        let call = json!({"index": at, "id": block.get("id"), "type": "function",
                            "function": {"name": block.get("name"), "arguments": ""}});
                        self.delta(out, json!({"tool_calls": [call]}), None);
                    }
                    Some("text") => self.text(out, block.get("text")),
                    _ => {}
                }
            }
            Some("content_block_delta") => {
                let delta = &data["delta"];
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => self.text(out, delta.get("text")),
                    Some("thinking_delta") => {
                        if let Some(thinking) = delta.get("thinking").and_then(Value::as_str) {
                            self.delta(out, json!({"reasoning_content": thinking}), None);
                        }
                    }
                    Some("input_json_delta") => {
                        let at = self
                            .tools
                            .iter()
                            .find(|(i, _)| *i == index)
                            .map(|(_, at)| *at);
                        let part = delta.get("partial_json").and_then(Value::as_str);
                        if let (Some(at), Some(part)) = (at, part.filter(|p| !p.is_empty())) {
                            let call = json!({"index": at, "function": {"arguments": part}});
                            self.delta(out, json!({"tool_calls": [call]}), None);
                        }
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(n) = data["usage"].get("output_tokens").and_then(Value::as_u64) {
                    self.output = n;
                }
                // Anthropic may count the input again here; the later count is the one.
                for key in [
                    "input_tokens",
                    "cache_read_input_tokens",
                    "cache_creation_input_tokens",
                ] {
                    if let Some(n) = data["usage"].get(key).filter(|n| n.is_u64()) {
                        self.input[key] = n.clone();
                    }
                }
                let stop = data["delta"].get("stop_reason").and_then(Value::as_str);
                self.delta(out, json!({}), Some(finish_reason(stop)));
            }
            Some("message_stop") => self.stop(out),
            Some("error") => openai_chunk(out, &error_body(Direction::ChatToMessages, data)),
            _ => {}
        }
    }

    /// A text delta, the most of a stream's events, written as `delta` would write it
    /// (serde_json's object keys in their sorted order) without building it as a `Value`.
    fn text(&mut self, out: &mut Vec<u8>, text: Option<&Value>) {
        let Some(text) = text.and_then(Value::as_str).filter(|t| !t.is_empty()) else {
            return;
        };
        if self.text_tail.is_empty() {
            let mut tail =
                b"},\"finish_reason\":null,\"index\":0,\"logprobs\":null}],\"created\":".to_vec();
            tail.extend_from_slice(self.created.to_string().as_bytes());
            tail.extend_from_slice(b",\"id\":");
            super::json_string(&mut tail, &self.id);
            tail.extend_from_slice(b",\"model\":");
            super::json_string(&mut tail, &self.model);
            tail.extend_from_slice(b",\"object\":\"chat.completion.chunk\"}\n\n");
            self.text_tail = tail;
        }
        out.extend_from_slice(b"data: {\"choices\":[{\"delta\":{\"content\":");
        super::json_string(out, text);
        out.extend_from_slice(&self.text_tail);
    }

    fn delta(&self, out: &mut Vec<u8>, delta: Value, finish: Option<&str>) {
        let choice = json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish});
        openai_chunk(out, &self.chunk(json!([choice])));
    }

    fn chunk(&self, choices: Value) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model, "choices": choices})
    }

    fn stop(&mut self, out: &mut Vec<u8>) {
        self.ended = true;
        if self.include_usage {
            let read = count(&self.input, &["cache_read_input_tokens"]);
            let prompt = count(&self.input, &["input_tokens"])
                + read
                + count(&self.input, &["cache_creation_input_tokens"]);
            let mut chunk = self.chunk(json!([]));
            chunk["usage"] = json!({"prompt_tokens": prompt, "completion_tokens": self.output,
                "total_tokens": prompt + self.output,
                "prompt_tokens_details": {"cached_tokens": read}});
            openai_chunk(out, &chunk);
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_delta_is_written_as_its_value_would_be() {
        let mut state = State::new("claude \"x\"", false, 1_700_000_000);
        let start = json!({"type": "message_start", "message": {"id": "msg_\u{1}é"}});
        state.event(None, &start, &mut Vec::new());
        for text in ["Hello", "a\"b\\c\nd\te\u{1}\u{7f} é 😀"] {
            let (mut fast, mut value) = (Vec::new(), Vec::new());
            state.text(&mut fast, Some(&json!(text)));
            state.delta(&mut value, json!({"content": text}), None);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(value).unwrap()
            );
        }
    }
}
