//! An upstream's error answer in the caller's format, with the upstream's status: its
//! message kept (it has been scrubbed of the key on the way), everything else of its body
//! left behind.

use serde_json::{Value, json};

use super::super::error::{Kind, wire};
use super::Direction;
use crate::domain::surface::Format;

/// The longest upstream message passed on, in characters.
const MOST_CHARS: usize = 2000;

/// `body`, an error answer of status `status` in the provider's format, as the caller's
/// format says errors. A body with no message of its own is told by its status.
pub fn error(direction: Direction, status: u16, body: &[u8]) -> Vec<u8> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|b| b.get("error"));
    // Both formats keep the words in `error.message`; some servers send `error` as a string.
    let message = error
        .and_then(|e| e.get("message").or(Some(e)))
        .and_then(Value::as_str)
        .map(|m| m.chars().take(MOST_CHARS).collect::<String>())
        .unwrap_or_else(|| format!("the provider answered {status}"));
    let upstream_type = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    let kind = kind(status);
    let out = match direction.caller().format() {
        Format::OpenAi => json!({"error": {
            "message": message,
            "type": wire::error_type(Format::OpenAi, kind),
            "code": upstream_type,
            "param": null,
        }}),
        Format::Anthropic => json!({"type": "error", "error": {
            "type": wire::error_type(Format::Anthropic, kind),
            "message": message,
        }}),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

/// The kind of failure an upstream's status tells of.
fn kind(status: u16) -> Kind {
    match status {
        401 => Kind::Unauthenticated,
        403 => Kind::Forbidden,
        404 => Kind::ModelNotFound,
        413 => Kind::TooLarge,
        429 => Kind::RateLimited,
        503 | 529 => Kind::Unavailable,
        500..=599 => Kind::Internal,
        _ => Kind::InvalidRequest,
    }
}
