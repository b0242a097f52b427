//! Into OpenAI's chat-completions format: an Anthropic messages request for an OpenAI
//! provider, and an Anthropic provider's message for an OpenAI caller.

use serde_json::{Map, Value, json};

use super::common::{Notes, count, finish_reason, reasoning_effort, text_block, text_of};
use super::{Options, tools};

/// An Anthropic messages body as an OpenAI chat completion. `system` becomes the first
/// message, `tool_result` blocks `tool` messages (before the rest of their turn, right after
/// the assistant's calls, as OpenAI wants), and a field with no counterpart is noted — as is
/// one the provider's `supportedParams` leaves out, when it lists any.
///
/// Left out without a note, as they change no answer: `cache_control` (a caching hint;
/// OpenAI caches by itself), an assistant turn's `thinking` blocks (chat completions take
/// no reasoning back) and a tool result's `is_error` (OpenAI's tool messages have no such
/// flag; the result's words, which say what failed, go as they are).
pub(super) fn request(
    body: &Map<String, Value>,
    notes: &mut Notes,
    options: Options<'_>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut messages = Vec::new();
    // (OpenAI field, the Anthropic field it came from), for `supportedParams`.
    let mut sent: Vec<(&str, &str)> = Vec::new();
    let mut one_tool_at_a_time = false;
    for (name, value) in body {
        if value.is_null() {
            continue;
        }
        match name.as_str() {
            "model" | "max_tokens" | "temperature" | "top_p" => {
                out.insert(name.clone(), value.clone());
                sent.push((name, name));
            }
            "system" => match text_of(value) {
                Some(text) => messages.insert(0, json!({"role": "system", "content": text})),
                None => notes.wrong("system", "must be a string or an array of text blocks"),
            },
            "messages" => {}
            "stop_sequences" => {
                out.insert("stop".into(), value.clone());
                sent.push(("stop", "stop_sequences"));
            }
            "metadata" => {
                if !value.is_object() {
                    notes.wrong("metadata", "must be an object");
                }
                for (key, v) in value.as_object().into_iter().flatten() {
                    match key.as_str() {
                        "user_id" if !v.is_null() => {
                            out.insert("user".into(), v.clone());
                            sent.push(("user", "metadata.user_id"));
                        }
                        "user_id" => {}
                        _ => notes.refuse(format!("metadata.{key}")),
                    }
                }
            }
            "stream" => match value {
                // Asked for the usage chunk: OpenAI streams tell the usage only when asked.
                Value::Bool(true) => {
                    out.insert("stream".into(), Value::Bool(true));
                    out.insert("stream_options".into(), json!({"include_usage": true}));
                }
                Value::Bool(false) => {}
                _ => notes.wrong("stream", "must be a boolean"),
            },
            "tools" => {
                let tools = tools::to_openai(value, notes);
                // Every tool dropped (lenient): none is sent, rather than an empty list.
                if tools.as_array().is_some_and(|t| !t.is_empty()) {
                    out.insert("tools".into(), tools);
                }
                sent.push(("tools", "tools"));
            }
            "tool_choice" => {
                one_tool_at_a_time =
                    value.get("disable_parallel_tool_use") == Some(&Value::Bool(true));
                if let Some(choice) = tools::choice_to_openai(value, notes) {
                    out.insert("tool_choice".into(), choice);
                    sent.push(("tool_choice", "tool_choice"));
                }
            }
            // OpenAI has none; servers that take it (vLLM, llama.cpp) say so in supportedParams.
            "top_k" if options.supported_params.iter().any(|p| p == "top_k") => {
                out.insert(name.clone(), value.clone());
            }
            "thinking" => match value.get("type").and_then(Value::as_str) {
                Some("disabled") => {}
                Some("enabled") => match value.get("budget_tokens").and_then(Value::as_u64) {
                    Some(budget) => {
                        out.insert("reasoning_effort".into(), json!(reasoning_effort(budget)));
                        sent.push(("reasoning_effort", "thinking"));
                    }
                    None => notes.wrong("thinking.budget_tokens", "must be an integer"),
                },
                // The model picks its own effort: OpenAI's default.
                Some("adaptive") => {}
                _ => notes.wrong("thinking.type", "must be enabled, disabled or adaptive"),
            },
            _ => notes.refuse(name.clone()),
        }
    }
    if one_tool_at_a_time {
        out.insert("parallel_tool_calls".into(), Value::Bool(false));
        sent.push((
            "parallel_tool_calls",
            "tool_choice.disable_parallel_tool_use",
        ));
    }
    match body.get("messages") {
        Some(Value::Array(list)) => {
            for (i, message) in list.iter().enumerate() {
                turn(message, i, &mut messages, notes);
            }
        }
        _ => notes.wrong("messages", "must be an array of messages"),
    }
    out.insert("messages".into(), Value::Array(messages));
    if !options.supported_params.is_empty() {
        for (field, from) in sent {
            // What every call needs is no optional parameter a provider may leave out.
            let needed = matches!(field, "model" | "max_tokens");
            if !needed && !options.supported_params.iter().any(|p| p == field) {
                out.remove(field);
                notes.refuse(from);
            }
        }
    }
    out
}

fn turn(message: &Value, i: usize, out: &mut Vec<Value>, notes: &mut Notes) {
    let role = message.get("role").and_then(Value::as_str);
    let content = message.get("content").unwrap_or(&Value::Null);
    if !matches!(role, Some("user" | "assistant")) {
        notes.wrong(format!("messages[{i}].role"), "must be user or assistant");
        return;
    }
    let role = role.unwrap_or_default();
    let blocks = match content {
        Value::String(s) => {
            out.push(json!({"role": role, "content": s}));
            return;
        }
        Value::Array(blocks) => blocks,
        _ => {
            notes.wrong(
                format!("messages[{i}].content"),
                "must be a string or an array of blocks",
            );
            return;
        }
    };
    let (mut parts, mut calls) = (Vec::new(), Vec::new());
    for (j, block) in blocks.iter().enumerate() {
        let at = || format!("messages[{i}].content[{j}]");
        match (role, block.get("type").and_then(Value::as_str)) {
            (_, Some("text")) => match block.get("text").and_then(Value::as_str) {
                Some(text) => parts.push(text_block(text)),
                None => notes.wrong(format!("{}.text", at()), "must be a string"),
            },
            ("user", Some("image")) => match image_url(&block["source"]) {
                Some(url) => parts.push(json!({"type": "image_url", "image_url": {"url": url}})),
                None => notes.wrong(
                    format!("{}.source", at()),
                    "must be a base64 or url image source",
                ),
            },
            ("user", Some("tool_result")) => {
                let id = block.get("tool_use_id").and_then(Value::as_str);
                match (id, text_of(block.get("content").unwrap_or(&Value::Null))) {
                    (Some(id), Some(text)) => {
                        out.push(json!({"role": "tool", "tool_call_id": id, "content": text}));
                    }
                    (None, _) => notes.wrong(format!("{}.tool_use_id", at()), "must be a string"),
                    (_, None) => notes.refuse("messages[].content[].tool_result.content[].image"),
                }
            }
            ("assistant", Some("tool_use")) => {
                let (id, name) = (block.get("id"), block.get("name"));
                match (id.and_then(Value::as_str), name.and_then(Value::as_str)) {
                    (Some(id), Some(name)) => {
                        let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                        let arguments = serde_json::to_string(&input).unwrap_or_default();
                        calls.push(json!({"id": id, "type": "function",
                                          "function": {"name": name, "arguments": arguments}}));
                    }
                    _ => notes.wrong(at(), "must have a string `id` and `name`"),
                }
            }
            ("assistant", Some("thinking" | "redacted_thinking")) => {}
            (_, Some(other)) => notes.refuse(format!("messages[].content[].{other}")),
            (_, None) => notes.wrong(format!("{}.type", at()), "must be a string"),
        }
    }
    match role {
        "assistant" => {
            let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
            let mut message = json!({"role": "assistant", "content": text});
            if !calls.is_empty() {
                if text.is_empty() {
                    message["content"] = Value::Null;
                }
                message["tool_calls"] = Value::Array(calls);
            }
            out.push(message);
        }
        // A turn of tool results only has no user words left to send.
        _ if parts.is_empty() && !blocks.is_empty() => {}
        _ => out.push(json!({"role": "user", "content": parts})),
    }
}

/// OpenAI's image URL for an Anthropic image source: a `data:` URL of base64 bytes, or the URL.
fn image_url(source: &Value) -> Option<String> {
    match source.get("type").and_then(Value::as_str)? {
        "base64" => {
            let media_type = source.get("media_type").and_then(Value::as_str)?;
            let data = source.get("data").and_then(Value::as_str)?;
            Some(format!("data:{media_type};base64,{data}"))
        }
        "url" => source.get("url").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// An Anthropic message as an OpenAI chat completion: text blocks joined into `content`,
/// `thinking` into `reasoning_content` (as vLLM and DeepSeek name it), `tool_use` into
/// `tool_calls` with their ids; usage with cache reads and writes counted in
/// `prompt_tokens` (as OpenAI counts cached tokens), reads also as `cached_tokens`.
pub(super) fn response(body: &Value, model: &str, created: u64) -> Result<Value, String> {
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or("it has no `content` array")?;
    let (mut text, mut reasoning, mut calls) = (String::new(), String::new(), Vec::new());
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("thinking") => {
                reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or(""));
            }
            Some("tool_use") => {
                let id = block
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or("a tool_use has no `id`")?;
                let name = block
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or("a tool_use has no `name`")?;
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                let arguments = serde_json::to_string(&input).unwrap_or_default();
                calls.push(json!({"id": id, "type": "function",
                                  "function": {"name": name, "arguments": arguments}}));
            }
            _ => {}
        }
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !reasoning.is_empty() {
        message["reasoning_content"] = Value::String(reasoning);
    }
    if !calls.is_empty() {
        if text.is_empty() {
            message["content"] = Value::Null;
        }
        message["tool_calls"] = Value::Array(calls);
    }
    let usage = body.get("usage").unwrap_or(&Value::Null);
    let read = count(usage, &["cache_read_input_tokens"]);
    let prompt =
        count(usage, &["input_tokens"]) + read + count(usage, &["cache_creation_input_tokens"]);
    let completion = count(usage, &["output_tokens"]);
    Ok(json!({
        "id": body.get("id").and_then(Value::as_str).unwrap_or("chatcmpl-modelgate"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(body.get("stop_reason").and_then(Value::as_str)),
        }],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": read},
        },
    }))
}
