//! Into Anthropic's messages format: an OpenAI chat-completions request for an Anthropic
//! provider, and an OpenAI provider's chat completion for an Anthropic caller.

use serde_json::{Map, Value, json};

use super::common::{
    LEAST_THINKING, Notes, arguments, count, image_source, is_zero, stop_reason, text_block,
    text_of, thinking_budget,
};
use super::{DEFAULT_MAX_TOKENS, tools};

/// An OpenAI chat-completions body as Anthropic messages. System and developer messages
/// become `system`, tool results user turns of `tool_result` blocks, turns of one role in a
/// row one turn (Anthropic alternates), and a field with no Anthropic counterpart is noted.
/// An image's `detail` (a resolution hint Anthropic has no word for) is left out.
pub(super) fn request(body: &Map<String, Value>, notes: &mut Notes) -> Map<String, Value> {
    let mut out = Map::new();
    let mut system = Vec::new();
    let mut tool_choice = None;
    let mut one_tool_at_a_time = false;
    let mut metadata = Map::new();
    let mut effort = None;
    for (name, value) in body {
        if value.is_null() {
            continue;
        }
        match name.as_str() {
            "model" | "temperature" | "top_p" | "top_k" => {
                out.insert(name.clone(), value.clone());
            }
            "messages" => {
                let messages = messages(value, &mut system, notes);
                out.insert("messages".into(), Value::Array(messages));
            }
            // Read below: the newer name wins over the older.
            "max_completion_tokens" | "max_tokens" => {}
            "stop" => match value {
                Value::String(s) => {
                    out.insert("stop_sequences".into(), json!([s]));
                }
                Value::Array(_) => {
                    out.insert("stop_sequences".into(), value.clone());
                }
                _ => notes.wrong("stop", "must be a string or an array of strings"),
            },
            // `safety_identifier` is OpenAI's newer name for what `user` said.
            "user" | "safety_identifier" => {
                metadata.insert("user_id".into(), value.clone());
            }
            "stream" => match value {
                Value::Bool(true) => {
                    out.insert("stream".into(), Value::Bool(true));
                }
                Value::Bool(false) => {}
                _ => notes.wrong("stream", "must be a boolean"),
            },
            // Anthropic's stream always tells the usage; whether the caller hears it is the
            // stream translation's to say (`Translated::include_usage`).
            "stream_options" => {}
            "tools" => {
                let tools = tools::to_anthropic(value, notes);
                // Every tool dropped (lenient): none is sent, rather than an empty list.
                if tools.as_array().is_some_and(|t| !t.is_empty()) {
                    out.insert("tools".into(), tools);
                }
            }
            "reasoning_effort" => effort = Some(value),
            "tool_choice" => tool_choice = Some(tools::choice_to_anthropic(value, notes)),
            "parallel_tool_calls" => one_tool_at_a_time = value == &Value::Bool(false),
            "n" if value.as_u64() == Some(1) => {}
            "logprobs" | "store" if value == &Value::Bool(false) => {}
            "logit_bias" if value.as_object().is_some_and(Map::is_empty) => {}
            "presence_penalty" | "frequency_penalty" if is_zero(value) => {}
            "response_format" if value.get("type").and_then(Value::as_str) == Some("text") => {}
            _ => notes.refuse(name.clone()),
        }
    }
    let cap = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|field| {
            body.get(*field)
                .filter(|v| !v.is_null())
                .map(|v| (*field, v))
        });
    let max_tokens = match cap {
        None => Some(Value::from(DEFAULT_MAX_TOKENS)),
        Some((_, v)) if v.as_u64().is_some_and(|n| n > 0) => Some(v.clone()),
        Some((field, _)) => {
            notes.wrong(field, "must be a positive integer");
            None
        }
    };
    if let Some(effort) = effort {
        // A wrong max_tokens is told of already: the effort is still checked on its own.
        let most = max_tokens
            .as_ref()
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        thinking(effort, most, &mut out, notes);
    }
    if let Some(max_tokens) = max_tokens {
        out.insert("max_tokens".into(), max_tokens);
    }
    match system.as_slice() {
        [] => {}
        [one] => {
            out.insert("system".into(), one["text"].clone());
        }
        _ => {
            out.insert("system".into(), Value::Array(system));
        }
    }
    if one_tool_at_a_time && tool_choice.is_none() {
        tool_choice = Some(json!({"type": "auto"}));
    }
    if let Some(mut choice) = tool_choice {
        if one_tool_at_a_time && choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = Value::Bool(true);
        }
        out.insert("tool_choice".into(), choice);
    }
    if !metadata.is_empty() {
        out.insert("metadata".into(), Value::Object(metadata));
    }
    out
}

/// OpenAI's `reasoning_effort` as Anthropic's thinking budget, which must stay below
/// `max_tokens`.
fn thinking(effort: &Value, max_tokens: u64, out: &mut Map<String, Value>, notes: &mut Notes) {
    match effort.as_str().map(thinking_budget) {
        Some(Ok(None)) => {}
        Some(Ok(Some(budget))) => {
            let budget = budget.min(max_tokens.saturating_sub(1));
            if budget < LEAST_THINKING {
                notes.wrong(
                    "reasoning_effort",
                    "needs a max_tokens above 1024, Anthropic's least thinking budget",
                );
                return;
            }
            out.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": budget}),
            );
        }
        _ => notes.wrong(
            "reasoning_effort",
            "must be none, minimal, low, medium or high",
        ),
    }
}

fn messages(value: &Value, system: &mut Vec<Value>, notes: &mut Notes) -> Vec<Value> {
    let Some(list) = value.as_array() else {
        notes.wrong("messages", "must be an array of messages");
        return Vec::new();
    };
    let mut out: Vec<Value> = Vec::new();
    for (i, message) in list.iter().enumerate() {
        let Some(message) = message.as_object() else {
            notes.wrong(format!("messages[{i}]"), "must be an object");
            continue;
        };
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        for (key, v) in message {
            let known = matches!(
                key.as_str(),
                "role" | "content" | "tool_calls" | "tool_call_id" | "refusal"
            );
            if !known && !v.is_null() {
                notes.refuse(format!("messages[].{key}"));
            }
        }
        let content = message.get("content").unwrap_or(&Value::Null);
        match role {
            "system" | "developer" => match text_of(content) {
                Some(text) => system.push(text_block(&text)),
                None => notes.wrong(
                    format!("messages[{i}].content"),
                    "of a system message must be text",
                ),
            },
            "user" => {
                let content = user_content(content, i, notes);
                push(&mut out, "user", content);
            }
            "assistant" => {
                let blocks = assistant_blocks(message, content, i, notes);
                if !blocks.is_empty() {
                    push(&mut out, "assistant", Value::Array(blocks));
                }
            }
            "tool" => {
                let id = message.get("tool_call_id").and_then(Value::as_str);
                let text = text_of(content);
                if id.is_none() {
                    notes.wrong(format!("messages[{i}].tool_call_id"), "must be a string");
                }
                if text.is_none() {
                    notes.wrong(
                        format!("messages[{i}].content"),
                        "of a tool message must be text",
                    );
                }
                let block = json!({"type": "tool_result", "tool_use_id": id, "content": text});
                push(&mut out, "user", json!([block]));
            }
            _ => notes.wrong(
                format!("messages[{i}].role"),
                "must be system, developer, user, assistant or tool",
            ),
        }
    }
    out
}

/// Appends a turn, or — when the last one has the same role — its blocks to that turn.
fn push(out: &mut Vec<Value>, role: &str, content: Value) {
    let blocks = |content: Value| match content {
        Value::String(s) => vec![text_block(&s)],
        Value::Array(blocks) => blocks,
        _ => Vec::new(),
    };
    if let Some(last) = out.last_mut()
        && last["role"] == role
    {
        let mut merged = blocks(last["content"].take());
        merged.extend(blocks(content));
        last["content"] = Value::Array(merged);
        return;
    }
    out.push(json!({"role": role, "content": content}));
}

fn user_content(content: &Value, i: usize, notes: &mut Notes) -> Value {
    let Some(parts) = content.as_array() else {
        if !content.is_string() {
            notes.wrong(
                format!("messages[{i}].content"),
                "must be a string or an array of parts",
            );
        }
        return content.clone();
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => match part.get("text").and_then(Value::as_str) {
                Some(text) => blocks.push(text_block(text)),
                None => notes.wrong(
                    format!("messages[{i}].content[{j}].text"),
                    "must be a string",
                ),
            },
            Some("image_url") => {
                let url = part
                    .get("image_url")
                    .and_then(|u| u.get("url").or(Some(u)))
                    .and_then(Value::as_str);
                match url.and_then(image_source) {
                    Some(source) => blocks.push(json!({"type": "image", "source": source})),
                    None => notes.wrong(
                        format!("messages[{i}].content[{j}].image_url.url"),
                        "must be an http(s) URL or a base64 data URL",
                    ),
                }
            }
            Some(other) => notes.refuse(format!("messages[].content[].{other}")),
            None => notes.wrong(
                format!("messages[{i}].content[{j}].type"),
                "must be a string",
            ),
        }
    }
    Value::Array(blocks)
}

fn assistant_blocks(
    message: &Map<String, Value>,
    content: &Value,
    i: usize,
    notes: &mut Notes,
) -> Vec<Value> {
    let mut blocks = Vec::new();
    match text_of(content) {
        Some(text) if text.is_empty() => {}
        Some(text) => blocks.push(text_block(&text)),
        None => notes.wrong(
            format!("messages[{i}].content"),
            "of an assistant message must be text",
        ),
    }
    let calls = message.get("tool_calls").unwrap_or(&Value::Null);
    let calls = match calls {
        Value::Null => &[][..],
        Value::Array(calls) => calls.as_slice(),
        _ => {
            notes.wrong(format!("messages[{i}].tool_calls"), "must be an array");
            &[][..]
        }
    };
    for (j, call) in calls.iter().enumerate() {
        let at = format!("messages[{i}].tool_calls[{j}]");
        let function = &call["function"];
        let (Some(id), Some(name)) = (
            call.get("id").and_then(Value::as_str),
            function.get("name").and_then(Value::as_str),
        ) else {
            notes.wrong(&at, "must have an `id` and a `function.name`");
            continue;
        };
        match arguments(function.get("arguments")) {
            Some(input) => {
                blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
            }
            None => notes.wrong(
                format!("{at}.function.arguments"),
                "must be a JSON object written as a string",
            ),
        }
    }
    blocks
}

/// An OpenAI chat completion as an Anthropic message: its first choice's text, reasoning
/// (`reasoning_content`, as vLLM and DeepSeek send it) and tool calls as blocks; usage with
/// cached prompt tokens apart (OpenAI counts them in `prompt_tokens`, Anthropic does not in
/// `input_tokens`; reasoning stays in `output_tokens`, as in `completion_tokens`).
pub(super) fn response(body: &Value, model: &str) -> Result<Value, String> {
    let choice = body
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or("it has no `choices[0]`")?;
    let message = choice
        .get("message")
        .ok_or("it has no `choices[0].message`")?;
    let mut content = Vec::new();
    let reasoning = ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|k| message.get(*k).and_then(Value::as_str));
    if let Some(thinking) = reasoning.filter(|r| !r.is_empty()) {
        content.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
    }
    match message.get("content").map(text_of) {
        Some(Some(text)) if !text.is_empty() => content.push(text_block(&text)),
        Some(None) => return Err("`choices[0].message.content` is not text".into()),
        _ => {}
    }
    if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
        content.push(text_block(refusal));
    }
    let calls = match message.get("tool_calls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(calls)) => calls.as_slice(),
        Some(_) => return Err("`choices[0].message.tool_calls` is not an array".into()),
    };
    for call in calls {
        let function = &call["function"];
        let (Some(id), Some(name)) = (
            call.get("id").and_then(Value::as_str),
            function.get("name").and_then(Value::as_str),
        ) else {
            return Err("a tool call has no `id` or `function.name`".into());
        };
        let input = arguments(function.get("arguments"))
            .ok_or("a tool call's `arguments` are not a JSON object")?;
        content.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    let usage = body.get("usage").unwrap_or(&Value::Null);
    let cached = count(usage, &["prompt_tokens_details", "cached_tokens"]);
    let prompt = count(usage, &["prompt_tokens"]);
    Ok(json!({
        "id": body.get("id").and_then(Value::as_str).unwrap_or("msg_modelgate"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason").and_then(Value::as_str)),
        "stop_sequence": null,
        "usage": {
            "input_tokens": prompt.saturating_sub(cached),
            "output_tokens": count(usage, &["completion_tokens"]),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
        },
    }))
}
