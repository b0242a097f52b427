//! Translation between OpenAI's chat completions and Anthropic's messages, for a call whose
//! provider serves the other format: the request body before the attempt, the answer (or the
//! upstream's error) after it. Pure: bytes in, bytes out, no I/O, never a panic on odd input.
//!
//! `to_anthropic` writes Anthropic's shapes (an OpenAI request for an Anthropic provider, an
//! OpenAI answer for an Anthropic caller), `to_openai` the reverse; `common` holds what both
//! share (what was refused, stop reasons), `upstream_error` an upstream's error re-shaped,
//! `stream` a stream's events as they arrive.
//!
//! A request field the target cannot express is never dropped silently: the call is refused
//! naming it, unless the caller asks for `x-modelgate-translation: lenient`, which drops it and
//! names it in `x-modelgate-translation-dropped`.

mod common;
pub mod stream;
pub mod to_anthropic;
pub mod to_openai;
mod tools;
mod upstream_error;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use super::error::{Code, GatewayError};
use crate::domain::surface::Surface;
use common::Notes;
pub use upstream_error::error;

/// The `max_tokens` an Anthropic provider is sent when the OpenAI caller sends no cap
/// (`max_completion_tokens`, `max_tokens`) and `/gateway-config` sets no `maxOutputTokens`:
/// Anthropic requires one, and every current Claude model can give this many.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The caller's header that asks to drop what cannot be translated.
pub const MODE_HEADER: &str = "x-modelgate-translation";
/// The answer's header that names what was dropped.
pub const DROPPED_HEADER: &str = "x-modelgate-translation-dropped";
/// The answer's header that marks a count of tokens estimated by the gateway (a provider with
/// no count-tokens route): `true`.
pub const ESTIMATE_HEADER: &str = "x-modelgate-estimate";

/// Which way a call is translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// An OpenAI chat-completions call to a provider of Anthropic messages.
    ChatToMessages,
    /// An Anthropic messages call to a provider of OpenAI chat completions.
    MessagesToChat,
}

impl Direction {
    /// The translation a call on `surface` needs to reach a provider that serves what
    /// `serves` says, when it does not serve `surface` itself but its counterpart.
    pub fn needed(surface: Surface, serves: impl Fn(Surface) -> bool) -> Option<Direction> {
        if serves(surface) {
            return None;
        }
        match surface {
            Surface::ChatCompletions if serves(Surface::Messages) => {
                Some(Direction::ChatToMessages)
            }
            Surface::Messages if serves(Surface::ChatCompletions) => {
                Some(Direction::MessagesToChat)
            }
            _ => None,
        }
    }

    /// The surface the provider is called on.
    pub fn upstream(self) -> Surface {
        match self {
            Direction::ChatToMessages => Surface::Messages,
            Direction::MessagesToChat => Surface::ChatCompletions,
        }
    }

    /// The surface the caller called.
    pub fn caller(self) -> Surface {
        match self {
            Direction::ChatToMessages => Surface::ChatCompletions,
            Direction::MessagesToChat => Surface::Messages,
        }
    }
}

/// What a request's translation may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Drop what the target cannot express instead of refusing the call.
    pub lenient: bool,
    /// For an OpenAI provider: the parameters its surface lists in `supportedParams`; when it
    /// lists any, a translated field outside them is one the target cannot express.
    pub supported_params: &'a [String],
}

/// A request body translated, and the caller's fields dropped on the way (lenient only).
#[derive(Debug, PartialEq)]
pub struct Translated {
    pub body: Vec<u8>,
    pub dropped: Vec<String>,
    /// An OpenAI caller's `stream_options.include_usage`: its stream ends with the usage chunk.
    pub include_usage: bool,
}

/// The caller's request body in the provider's format. Refused (400 in the caller's format):
/// a body that is no JSON object, fields of the wrong shape, and — unless `lenient` — fields
/// the target cannot express; every one of them named at once.
pub fn request(
    direction: Direction,
    body: &[u8],
    options: Options<'_>,
) -> Result<Translated, GatewayError> {
    let object: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            Code::InvalidJson,
            format!("the body is not a JSON object: {e}"),
        )
    })?;
    let mut notes = Notes::default();
    let out = match direction {
        Direction::ChatToMessages => to_anthropic::request(&object, &mut notes),
        Direction::MessagesToChat => to_openai::request(&object, &mut notes, options),
    };
    let dropped = notes.finish(direction, options.lenient)?;
    let body = serde_json::to_vec(&out).unwrap_or_default();
    let include_usage = object
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        == Some(&Value::Bool(true));
    Ok(Translated {
        body,
        dropped,
        include_usage,
    })
}

/// A provider's successful, non-streamed answer in the caller's format, naming `model` (the
/// name the caller sent); `created` is the time in seconds since the epoch (OpenAI's answers
/// carry it, Anthropic's do not). A body that cannot be read as the provider's format's
/// answer is a 502 `untranslatable_response`.
pub fn response(
    direction: Direction,
    body: &[u8],
    model: &str,
    created: u64,
) -> Result<Vec<u8>, GatewayError> {
    let unreadable = |why: String| {
        GatewayError::new(
            Code::UntranslatableResponse,
            format!(
                "the provider's answer cannot be translated into {} `{}`: {why}",
                direction.caller().format().name(),
                direction.caller().name()
            ),
        )
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|e| unreadable(format!("it is not JSON ({e})")))?;
    let out = match direction {
        Direction::ChatToMessages => to_openai::response(&value, model, created),
        Direction::MessagesToChat => to_anthropic::response(&value, model),
    }
    .map_err(unreadable)?;
    Ok(serde_json::to_vec(&out).unwrap_or_default())
}
