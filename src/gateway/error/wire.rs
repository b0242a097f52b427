//! The error shapes of the two wire formats, for whole answers and inside streams.

use bytes::Bytes;
use serde_json::{Value, json};

use super::{GatewayError, Kind};
use crate::domain::surface::Format;

/// OpenAI's error `type` for a kind.
fn openai_type(kind: Kind) -> &'static str {
    match kind {
        Kind::InvalidRequest
        | Kind::ModelNotFound
        | Kind::MethodNotAllowed
        | Kind::TooLarge
        | Kind::SlowBody => "invalid_request_error",
        Kind::Unauthenticated => "authentication_error",
        Kind::Forbidden => "permission_error",
        Kind::RateLimited => "rate_limit_error",
        Kind::OutOfBudget => "insufficient_quota",
        Kind::NoUsableKey
        | Kind::Unreachable
        | Kind::Timeout
        | Kind::Internal
        | Kind::CredentialsExhausted
        | Kind::Unavailable => "api_error",
    }
}

/// Anthropic's error `type` for a kind.
fn anthropic_type(kind: Kind) -> &'static str {
    match kind {
        Kind::InvalidRequest | Kind::SlowBody | Kind::MethodNotAllowed => "invalid_request_error",
        Kind::Unauthenticated => "authentication_error",
        Kind::ModelNotFound => "not_found_error",
        Kind::Forbidden => "permission_error",
        Kind::TooLarge => "request_too_large",
        Kind::RateLimited => "rate_limit_error",
        Kind::OutOfBudget => "billing_error",
        Kind::Unavailable => "overloaded_error",
        Kind::NoUsableKey
        | Kind::Unreachable
        | Kind::Timeout
        | Kind::Internal
        | Kind::CredentialsExhausted => "api_error",
    }
}

/// The error `type` `format` names for `kind` (an upstream's error re-shaped for a
/// translated call says its kind in the caller's words).
pub fn error_type(format: Format, kind: Kind) -> &'static str {
    match format {
        Format::OpenAi => openai_type(kind),
        Format::Anthropic => anthropic_type(kind),
    }
}

/// The error body in `format`'s shape: OpenAI's `{"error": {message, type, code, param}}`,
/// Anthropic's `{"type": "error", "error": {type, message}}`; after failed attempts the error
/// object also lists them as `attempts` (SDKs keep fields they do not know).
pub fn error_body(format: Format, error: &GatewayError) -> Value {
    let mut body = shape(format, error);
    if !error.attempts.is_empty() {
        // Both shapes keep the error's words in an `error` object.
        body["error"]["attempts"] = json!(error.attempts);
    }
    body
}

fn shape(format: Format, error: &GatewayError) -> Value {
    match format {
        Format::OpenAi => json!({"error": {
            "message": error.message,
            "type": openai_type(error.kind()),
            "code": error.code,
            "param": error.param,
        }}),
        Format::Anthropic => json!({"type": "error", "error": {
            "type": anthropic_type(error.kind()),
            "message": error.message,
        }}),
    }
}

/// An error inside a server-sent-event stream, in the format's stream shape.
pub fn stream_error_event(format: Format, error: &GatewayError) -> Bytes {
    let body = error_body(format, error);
    Bytes::from(match format {
        Format::OpenAi => format!("data: {body}\n\n"),
        Format::Anthropic => format!("event: error\ndata: {body}\n\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::Code;
    use super::*;

    #[test]
    fn each_format_gets_its_own_shape() {
        let e = GatewayError::new(Code::ModelNotFound, "no such model").at("model");
        assert_eq!(
            error_body(Format::OpenAi, &e),
            json!({"error": {"message": "no such model", "type": "invalid_request_error",
                             "code": "model_not_found", "param": "model"}})
        );
        assert_eq!(
            error_body(Format::Anthropic, &e),
            json!({"type": "error", "error": {"type": "not_found_error", "message": "no such model"}})
        );
        let spent = GatewayError::new(Code::InsufficientQuota, "spent");
        assert_eq!(
            error_body(Format::OpenAi, &spent)["error"],
            json!({"message": "spent", "type": "insufficient_quota",
                   "code": "insufficient_quota", "param": null})
        );
        assert_eq!(
            error_body(Format::Anthropic, &spent),
            json!({"type": "error", "error": {"type": "billing_error", "message": "spent"}})
        );
        let event = stream_error_event(Format::Anthropic, &e);
        assert!(event.starts_with(b"event: error\ndata: {") && event.ends_with(b"\n\n"));
    }
}
