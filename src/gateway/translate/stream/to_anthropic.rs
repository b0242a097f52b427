//! OpenAI chat-completion chunks as Anthropic's stream of events. Anthropic's blocks come one
//! after another, so a chunk that changes from text to reasoning or to another tool call
//! closes the open block and opens the next. Usage is known at the end only (OpenAI's usage
//! chunk, asked for with `stream_options.include_usage`): `message_delta` carries it whole,
//! `input_tokens` included.

use serde_json::{Value, json};

use super::super::Direction;
use super::super::common::{count, stop_reason};
use super::{anthropic_event, error_body};

#[derive(Debug, PartialEq)]
enum Open {
    Text,
    Thinking,
    /// A tool call, by its index in OpenAI's `tool_calls`.
    Tool(u64),
}

pub(super) struct State {
    model: String,
    started: bool,
    /// The open block and its index.
    open: Option<(Open, u64)>,
    next: u64,
    finish: Option<String>,
    usage: Value,
    ended: bool,
}

impl State {
    pub(super) fn new(model: &str) -> State {
        State {
            model: model.to_owned(),
            started: false,
            open: None,
            next: 0,
            finish: None,
            usage: Value::Null,
            ended: false,
        }
    }

    pub(super) fn chunk(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        if chunk.get("error").is_some() {
            anthropic_event(out, &error_body(Direction::MessagesToChat, chunk));
            return;
        }
        self.start(chunk, out);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = usage.clone();
        }
        let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) else {
            return;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        let reasoning = ["reasoning_content", "reasoning"]
            .iter()
            .find_map(|k| delta.get(*k).and_then(Value::as_str));
        if let Some(thinking) = reasoning.filter(|t| !t.is_empty()) {
            let index = self.block(
                Open::Thinking,
                out,
                || json!({"type": "thinking", "thinking": "", "signature": ""}),
            );
            let delta = json!({"type": "thinking_delta", "thinking": thinking});
            block_delta(out, index, delta);
        }
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = self.block(Open::Text, out, || json!({"type": "text", "text": ""}));
            text_delta(out, index, text);
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let at = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let function = call.get("function").unwrap_or(&Value::Null);
            let index = self.block(Open::Tool(at), out, || {
                json!({"type": "tool_use", "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
                       "name": function.get("name").and_then(Value::as_str).unwrap_or(""),
                       "input": {}})
            });
            if let Some(part) = function
                .get("arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                block_delta(
                    out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": part}),
                );
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(reason.to_owned());
            self.close(out);
        }
    }

    /// `data: [DONE]`: the message's end, with its stop reason and usage.
    pub(super) fn done(&mut self, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.start(&Value::Null, out);
        self.close(out);
        self.ended = true;
        let cached = count(&self.usage, &["prompt_tokens_details", "cached_tokens"]);
        let prompt = count(&self.usage, &["prompt_tokens"]);
        anthropic_event(
            out,
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason(self.finish.as_deref()), "stop_sequence": null},
                    "usage": {"input_tokens": prompt.saturating_sub(cached),
                              "output_tokens": count(&self.usage, &["completion_tokens"]),
                              "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": cached}}),
        );
        anthropic_event(out, &json!({"type": "message_stop"}));
    }

    fn start(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let id = chunk
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("msg_modelgate");
        anthropic_event(
            out,
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        );
    }

    /// The index of the block `kind` writes to: the open one, or a new one opened with
    /// `content_block` after the open one is closed.
    fn block(
        &mut self,
        kind: Open,
        out: &mut Vec<u8>,
        content_block: impl FnOnce() -> Value,
    ) -> u64 {
        if let Some((open, index)) = &self.open
            && *open == kind
        {
            return *index;
        }
        self.close(out);
        let index = self.next;
        self.next += 1;
        anthropic_event(
            out,
            &json!({"type": "content_block_start", "index": index, "content_block": content_block()}),
        );
        self.open = Some((kind, index));
        index
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            anthropic_event(out, &json!({"type": "content_block_stop", "index": index}));
        }
    }
}

/// A text delta, the most of a stream's events, written as `block_delta` would write it
/// (serde_json's object keys in their sorted order) without building it as a `Value` first.
fn text_delta(out: &mut Vec<u8>, index: u64, text: &str) {
    out.extend_from_slice(b"event: content_block_delta\ndata: {\"delta\":{\"text\":");
    super::json_string(out, text);
    out.extend_from_slice(
        format!(
            ",\"type\":\"text_delta\"}},\"index\":{index},\"type\":\"content_block_delta\"}}\n\n"
        )
        .as_bytes(),
    );
}

fn block_delta(out: &mut Vec<u8>, index: u64, delta: Value) {
    anthropic_event(
        out,
        &json!({"type": "content_block_delta", "index": index, "delta": delta}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_delta_is_written_as_its_value_would_be() {
        for text in ["Hello", "a\"b\\c\nd\te\u{1}\u{7f} é 😀 </script>"] {
            let (mut fast, mut value) = (Vec::new(), Vec::new());
            text_delta(&mut fast, 7, text);
            block_delta(&mut value, 7, json!({"type": "text_delta", "text": text}));
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(value).unwrap()
            );
        }
    }
}
