//! Why a model call failed before an upstream answered it, in format-neutral terms: the HTTP
//! layer renders each in the OpenAI or Anthropic error shape of the request's route.

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
    /// Every attempt was rate-limited upstream: 429.
    RateLimited,
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
            Kind::TooLarge => 413,
            Kind::SlowBody => 408,
            Kind::NoUsableKey => 503,
            Kind::Unreachable => 502,
            Kind::Timeout => 504,
            Kind::RateLimited => 429,
            Kind::CredentialsExhausted => 502,
            Kind::Unavailable => 503,
            Kind::Internal => 500,
        }
    }
}

/// A failure with the words for the client; never a key, a token or an upstream body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub kind: Kind,
    /// A stable code (`model_not_found`, `invalid_model`, …).
    pub code: &'static str,
    pub message: String,
    /// The body field at fault, where there is one.
    pub param: Option<&'static str>,
    /// The attempts made, when several were and none answered.
    pub attempts: Vec<Attempt>,
    /// How long the client should wait before trying again (sent as `retry-after`).
    pub retry_after: Option<Duration>,
}

impl GatewayError {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> GatewayError {
        GatewayError {
            kind,
            code,
            message: message.into(),
            param: None,
            attempts: Vec::new(),
            retry_after: None,
        }
    }

    pub fn at(mut self, param: &'static str) -> GatewayError {
        self.param = Some(param);
        self
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> GatewayError {
        GatewayError::new(Kind::InvalidRequest, code, message)
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
    pub error: &'static str,
}
