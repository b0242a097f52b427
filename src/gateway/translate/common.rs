//! What both directions share: the fields noted as refused or wrongly shaped on the way, and
//! the small readings of JSON values each mapping needs.

use serde_json::{Value, json};

use super::super::error::{Code, GatewayError};
use super::Direction;

/// What a request's translation found: fields the target cannot express (by their generic
/// path, `messages[].name`, so each is named once) and fields of the wrong shape (by their
/// exact path).
#[derive(Debug, Default)]
pub(super) struct Notes {
    refused: Vec<String>,
    wrong: Vec<String>,
}

impl Notes {
    pub(super) fn refuse(&mut self, field: impl Into<String>) {
        let field = field.into();
        if !self.refused.contains(&field) {
            self.refused.push(field);
        }
    }

    pub(super) fn wrong(&mut self, field: impl AsRef<str>, rule: &str) {
        self.wrong.push(format!("`{}` {rule}", field.as_ref()));
    }

    /// Every problem at once: wrong shapes first (lenience does not excuse them), then what
    /// cannot be expressed; or, lenient, the names of what was dropped.
    pub(super) fn finish(
        self,
        direction: Direction,
        lenient: bool,
    ) -> Result<Vec<String>, GatewayError> {
        let target = direction.upstream();
        if !self.wrong.is_empty() {
            return Err(GatewayError::new(
                Code::UntranslatableRequest,
                format!(
                    "the body cannot be translated for a provider of {} `{}`: {}",
                    target.format().name(),
                    target.name(),
                    self.wrong.join("; ")
                ),
            ));
        }
        if self.refused.is_empty() || lenient {
            return Ok(self.refused);
        }
        let names: Vec<String> = self.refused.iter().map(|f| format!("`{f}`")).collect();
        Err(GatewayError::new(
            Code::TranslationRefused,
            format!(
                "the provider serves {} `{}` only, which cannot express {}; remove {}, or send \
                 `x-modelgate-translation: lenient` to have such fields dropped",
                target.format().name(),
                target.name(),
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" }
            ),
        ))
    }
}

/// Whether a number is zero (an OpenAI penalty or bias that changes nothing).
pub(super) fn is_zero(value: &Value) -> bool {
    value.as_f64() == Some(0.0)
}

/// A text made of a string, or of an array's text parts joined; `None` for anything else
/// (an image in a place that takes text only, a number).
pub(super) fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for part in parts {
                if part.get("type").and_then(Value::as_str) != Some("text") {
                    return None;
                }
                text.push_str(part.get("text").and_then(Value::as_str)?);
            }
            Some(text)
        }
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A text block of Anthropic's (and a text part of OpenAI's: the same shape).
pub(super) fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// A count read from a usage object; absent or odd: 0.
pub(super) fn count(usage: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(usage, |v, key| v.get(key))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Anthropic's least thinking budget.
pub(super) const LEAST_THINKING: u64 = 1024;

/// The thinking budget Anthropic is asked for at an OpenAI `reasoning_effort` (`None`: no
/// thinking), or `Err` for an effort OpenAI does not name.
pub(super) fn thinking_budget(effort: &str) -> Result<Option<u64>, ()> {
    match effort {
        "none" => Ok(None),
        "minimal" => Ok(Some(LEAST_THINKING)),
        "low" => Ok(Some(2048)),
        "medium" => Ok(Some(8192)),
        "high" => Ok(Some(24576)),
        _ => Err(()),
    }
}

/// The OpenAI `reasoning_effort` nearest an Anthropic thinking budget.
pub(super) fn reasoning_effort(budget: u64) -> &'static str {
    match budget {
        0..2048 => "minimal",
        2048..8192 => "low",
        8192..24576 => "medium",
        _ => "high",
    }
}

/// Anthropic's `stop_reason` for OpenAI's `finish_reason`.
pub(super) fn stop_reason(finish_reason: Option<&str>) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("tool_calls" | "function_call") => "tool_use",
        Some("content_filter") => "refusal",
        _ => "end_turn",
    }
}

/// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
pub(super) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// Anthropic's image source for an OpenAI image URL: a `data:` URL's bytes, or the URL.
pub(super) fn image_source(url: &str) -> Option<Value> {
    if let Some(data) = url.strip_prefix("data:") {
        let (media_type, data) = data.split_once(";base64,")?;
        return Some(json!({"type": "base64", "media_type": media_type, "data": data}));
    }
    let web = url.starts_with("https://") || url.starts_with("http://");
    web.then(|| json!({"type": "url", "url": url}))
}

/// A tool call's `arguments` (a JSON object written as a string) as the object itself.
pub(super) fn arguments(arguments: Option<&Value>) -> Option<Value> {
    match arguments {
        None | Some(Value::Null) => Some(json!({})),
        Some(Value::String(s)) if s.trim().is_empty() => Some(json!({})),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object),
        Some(_) => None,
    }
}
