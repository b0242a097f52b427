//! Why a model call failed before an upstream answered it, in format-neutral terms: every code
//! the data plane answers with is a [`Code`], whose one table entry fixes its name and kind;
//! the kind fixes the HTTP status and the error type each wire format names (`wire`).

pub mod wire;

use std::time::Duration;

use serde::Serialize;

/// The kinds of failure, each with its status and the error type both formats name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The body or a parameter is wrong: 400.
    InvalidRequest,
    /// No or a wrong credential: 401.
    Unauthenticated,
    /// The call may not go where it would: 403.
    Forbidden,
    /// No provider or model by that name: 404.
    ModelNotFound,
    /// The route takes another method: 405.
    MethodNotAllowed,
    /// The body is larger than the data plane's limit: 413.
    TooLarge,
    /// The body did not arrive in time: 408.
    SlowBody,
    /// The provider has keys, none of which can be used now: 503.
    NoUsableKey,
    /// The upstream could not be reached: 502.
    Unreachable,
    /// The upstream did not answer in time, or the call ran out of time: 504.
    Timeout,
    /// Every attempt was rate-limited upstream, or the caller's own limit is used up: 429.
    RateLimited,
    /// The caller's access key spent its budget for the period: 402.
    OutOfBudget,
    /// The upstream refused every key tried: 502.
    CredentialsExhausted,
    /// Several attempts failed in different ways: 503.
    Unavailable,
    /// Anything else: 500.
    Internal,
}

impl Kind {
    pub fn status(self) -> u16 {
        match self {
            Kind::InvalidRequest => 400,
            Kind::Unauthenticated => 401,
            Kind::Forbidden => 403,
            Kind::ModelNotFound => 404,
            Kind::MethodNotAllowed => 405,
            Kind::TooLarge => 413,
            Kind::SlowBody => 408,
            Kind::NoUsableKey => 503,
            Kind::Unreachable => 502,
            Kind::Timeout => 504,
            Kind::RateLimited => 429,
            Kind::OutOfBudget => 402,
            Kind::CredentialsExhausted => 502,
            Kind::Unavailable => 503,
            Kind::Internal => 500,
        }
    }
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $code:ident = $name:literal, $kind:ident;)*) => {
        /// Every error code of the data plane: the name clients see in `code` (and in
        /// `attempts[].error`), and its kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[doc = $doc])* $code,)*
        }

        impl Code {
            pub const ALL: &[Code] = &[$(Code::$code,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Code::$code => $name,)*
                }
            }

            pub fn kind(self) -> Kind {
                match self {
                    $(Code::$code => Kind::$kind,)*
                }
            }
        }
    };
}

codes! {
    /// The body is not a JSON object.
    InvalidJson = "invalid_json", InvalidRequest;
    /// The body could not be read (not a byte count problem).
    InvalidBody = "invalid_body", InvalidRequest;
    /// `model` is not a non-empty string, is given twice, or names no model after `provider:`.
    InvalidModel = "invalid_model", InvalidRequest;
    MissingModel = "missing_model", InvalidRequest;
    /// `models` is not an array of at most 16 non-empty strings.
    InvalidModels = "invalid_models", InvalidRequest;
    /// A header modelgate reads is sent twice or with a value it does not take.
    InvalidHeader = "invalid_header", InvalidRequest;
    /// A query parameter modelgate reads (`limit`, `after_id`, `before_id` of the model list)
    /// is given twice or with a value it does not take.
    InvalidQuery = "invalid_query", InvalidRequest;
    /// The provider that would serve the model does not declare the route's surface.
    SurfaceNotSupported = "surface_not_supported", InvalidRequest;
    /// The provider serves the surface's plain calls but refuses its streamed ones (Bifrost's
    /// `allowed_requests`: `chat_completion` on, `chat_completion_stream` off).
    StreamNotAllowed = "stream_not_allowed", InvalidRequest;
    /// A translated call (OpenAI ↔ Anthropic) sends a field the provider's format cannot
    /// express, and no `x-modelgate-translation: lenient` to drop it.
    TranslationRefused = "translation_unsupported_field", InvalidRequest;
    /// A translated call's body has a field of a shape that cannot be translated.
    UntranslatableRequest = "untranslatable_request", InvalidRequest;
    MethodNotAllowed = "method_not_allowed", MethodNotAllowed;
    MissingCredential = "missing_credential", Unauthenticated;
    InvalidCredential = "invalid_credential", Unauthenticated;
    /// An address the outbound rules refuse.
    OutboundRefused = "outbound_refused", Forbidden;
    /// The caller's access key may not use the call's `model` (its configuration's `access`).
    ModelNotAllowed = "model_not_allowed", Forbidden;
    /// In `attempts`: a fallback model the caller's access key may not use, never tried.
    NotAllowed = "not_allowed", Forbidden;
    /// `gateway.require_access_keys`: the data plane takes access keys only.
    AccessKeyRequired = "access_key_required", Unauthenticated;
    ModelNotFound = "model_not_found", ModelNotFound;
    UnknownRoute = "unknown_route", ModelNotFound;
    RequestTooLarge = "request_too_large", TooLarge;
    /// The input, estimated, is above `/gateway-config`'s `maxInputTokens`.
    InputTokensExceeded = "input_tokens_exceeded", TooLarge;
    RequestTimeout = "request_timeout", SlowBody;
    /// No key filed, or none that can be opened now (an `env.NAME` key without its variable).
    NoUsableKey = "no_usable_key", NoUsableKey;
    /// A key or caller header that cannot be sent as a header value.
    UnusableKey = "unusable_key", NoUsableKey;
    UpstreamUnreachable = "upstream_unreachable", Unreachable;
    /// A stream broke before its first content.
    StreamBroken = "stream_broken", Unreachable;
    /// A stream ended with nothing but its openings.
    StreamEnded = "stream_ended", Unreachable;
    /// A stream stopped after its first content, before its end.
    StreamEndedEarly = "stream_ended_early", Unreachable;
    /// A stream's upstream sent an error event (or error object) before its first content.
    UpstreamStreamError = "upstream_stream_error", Unreachable;
    /// A stream went quiet past its idle timeout (before its first content it fails over).
    StreamIdleTimeout = "stream_idle_timeout", Unreachable;
    /// A stream ran past `gateway.max_stream_secs` after its first content.
    StreamTooLong = "stream_too_long", Timeout;
    UpstreamTimeout = "upstream_timeout", Timeout;
    UpstreamRateLimited = "upstream_rate_limited", RateLimited;
    /// The provider's `concurrency` and `bufferSize` are taken.
    ProviderBusy = "provider_busy", RateLimited;
    /// The access key's `requestsPerMinute` is used up for this minute.
    RequestsPerMinuteExceeded = "requests_per_minute_exceeded", RateLimited;
    /// The access key's `tokensPerMinute` is used up for this minute.
    TokensPerMinuteExceeded = "tokens_per_minute_exceeded", RateLimited;
    /// The access key's `budget` is spent for its day or month (OpenAI's own name for it).
    InsufficientQuota = "insufficient_quota", OutOfBudget;
    UpstreamCredentialsExhausted = "upstream_credentials_exhausted", CredentialsExhausted;
    /// One attempt's key refused (401/402/403), in `attempts`.
    UpstreamRefusedCredentials = "upstream_refused_credentials", CredentialsExhausted;
    /// One attempt's request refused (4xx other than the above), in `attempts`.
    UpstreamRefusedRequest = "upstream_refused_request", InvalidRequest;
    /// One attempt's 5xx, in `attempts`.
    UpstreamError = "upstream_error", Unreachable;
    /// The upstream answered with a status that is no final HTTP answer (1xx, 101, outside
    /// 200–599): nothing a client could be handed.
    UpstreamInvalid = "upstream_invalid", Unreachable;
    /// A translated call's upstream answered with a body that is not its format's answer.
    UntranslatableResponse = "untranslatable_response", Unreachable;
    AllAttemptsFailed = "all_attempts_failed", Unavailable;
    /// The gateway itself ran out of something (open files): not the provider's failure.
    GatewayOverloaded = "gateway_overloaded", Unavailable;
    /// The provider's settings cannot make a client (a CA or proxy that no longer loads).
    ProviderMisconfigured = "provider_misconfigured", Internal;
    InvalidBaseUrl = "invalid_base_url", Internal;
    NoClient = "no_client", Internal;
    Internal = "internal", Internal;
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A failure with the words for the client; never a key, a token or an upstream body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub code: Code,
    pub message: String,
    /// The body field at fault, where there is one.
    pub param: Option<&'static str>,
    /// The attempts made, when several were and none answered.
    pub attempts: Vec<Attempt>,
    /// How long the client should wait before trying again (sent as `retry-after`).
    pub retry_after: Option<Duration>,
}

impl GatewayError {
    pub fn new(code: Code, message: impl Into<String>) -> GatewayError {
        GatewayError {
            code,
            message: message.into(),
            param: None,
            attempts: Vec::new(),
            retry_after: None,
        }
    }

    /// The code's kind, which fixes the status and each format's error type.
    pub fn kind(&self) -> Kind {
        self.code.kind()
    }

    pub fn at(mut self, param: &'static str) -> GatewayError {
        self.param = Some(param);
        self
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// One attempt as the client is told of it: never an upstream body, never a key.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Attempt {
    /// None for a fallback model no provider serves.
    pub provider: Option<String>,
    pub model: String,
    /// The upstream's status, when it answered.
    pub status: Option<u16>,
    pub error: Code,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_name_in_snake_case() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "a name is used twice");
    }
}
