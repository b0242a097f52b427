//! One policy for failed attempts, in one place: what a failure says about the key, the
//! provider and the request, where the call goes next, and what the client is told when no
//! candidate answered.

pub mod breaker;
pub mod clock;
pub mod cooldown;
pub mod per_minute;
pub mod weighted;

use std::time::Duration;

use super::error::{Attempt, Code, GatewayError};

/// Why an attempt did not answer the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The upstream answered with an error status.
    Status {
        status: u16,
        /// What its `retry-after-ms` or `retry-after` asked for.
        retry_after: Option<Duration>,
    },
    /// The upstream answered with a status no client may be handed as an answer (see
    /// [`is_final`]).
    Invalid { status: u16 },
    /// No answer within the attempt's time.
    Timeout,
    /// No connection, or it broke before an answer.
    Unreachable,
    /// A streamed answer broke or went quiet before its first content.
    StreamBroken(Code),
    /// The candidate could not be called: no usable key, a model that does not resolve, an
    /// address the outbound rules refuse.
    NotCallable(Code),
    /// The provider's `concurrency` and `bufferSize` are taken.
    Busy,
}

/// When a caller refused for a full provider queue should come back.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a failure means for the rest of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The key was refused (401, 402, 403): it rests; the next key is tried now.
    Credentials,
    /// The key was rate-limited (429): it rests as asked; the next key is tried now. A
    /// provider whose queue is full is in this class, though no key rests for it.
    RateLimited,
    /// The upstream failed (5xx, 408, no connection, no answer in time, a broken stream): the
    /// next key, then the next provider.
    Transient,
    /// The request itself was refused (400, 404, 413, 422, …): no other key or provider of the
    /// same model would answer otherwise; only a fallback model is tried.
    Request,
}

impl Failure {
    pub fn class(&self) -> Class {
        match self {
            Failure::Status { status, .. } => match status {
                401..=403 => Class::Credentials,
                429 => Class::RateLimited,
                408 | 500..=599 => Class::Transient,
                _ => Class::Request,
            },
            // A status outside HTTP's final answers is as broken as a stream that breaks.
            Failure::Invalid { .. }
            | Failure::Timeout
            | Failure::Unreachable
            | Failure::StreamBroken(_) => Class::Transient,
            Failure::NotCallable(_) => Class::Transient,
            Failure::Busy => Class::RateLimited,
        }
    }

    /// Whether the same key is worth another try (the provider's `maxRetries`): the upstream
    /// failed in a way that may pass.
    pub fn retried(&self) -> bool {
        self.tells_of_the_provider()
    }

    /// Whether the failure says the provider itself is unwell (for its circuit breaker): not a
    /// refused key or request, nor a candidate that could not be called.
    pub fn tells_of_the_provider(&self) -> bool {
        self.class() == Class::Transient && !matches!(self, Failure::NotCallable(_))
    }

    /// How long the key used should rest, if at all.
    pub fn rest(&self) -> Option<Duration> {
        match (self.class(), self) {
            (Class::Credentials, _) => Some(cooldown::REFUSED),
            (Class::RateLimited, Failure::Status { retry_after, .. }) => {
                Some(retry_after.unwrap_or(cooldown::RATE_LIMITED))
            }
            _ => None,
        }
    }

    /// What the key's rest is for, as the management API tells it.
    pub fn rest_cause(&self) -> cooldown::Cause {
        match self {
            Failure::Status { status, .. } if self.class() == Class::Credentials => {
                cooldown::Cause::Refused(*status)
            }
            _ => cooldown::Cause::RateLimited,
        }
    }

    /// Why the key used rests, in words for the log.
    pub fn why_rest(&self) -> String {
        match self {
            Failure::Status { status: 429, .. } => "the upstream rate-limited it (429)".into(),
            Failure::Status { status, .. } => format!("the upstream refused it ({status})"),
            other => format!("{other:?}"),
        }
    }

    pub fn code(&self) -> Code {
        match self {
            Failure::Status { status, .. } => match status {
                401..=403 => Code::UpstreamRefusedCredentials,
                429 => Code::UpstreamRateLimited,
                500..=599 => Code::UpstreamError,
                _ => Code::UpstreamRefusedRequest,
            },
            Failure::Invalid { .. } => Code::UpstreamInvalid,
            Failure::Timeout => Code::UpstreamTimeout,
            Failure::Unreachable => Code::UpstreamUnreachable,
            Failure::Busy => Code::ProviderBusy,
            Failure::StreamBroken(code) | Failure::NotCallable(code) => *code,
        }
    }
}

/// Whether an upstream's status is a final answer a client can be handed: 200–599. hyper
/// skips the interim 1xx answers itself, waiting for the final one; a 101 (an upgrade nobody
/// asked for) and codes past 599 reach the gateway and must not reach the client, whose
/// parser would refuse them or take the connection for switched.
pub fn is_final(status: u16) -> bool {
    (200..=599).contains(&status)
}

/// `retry-after-ms` (OpenAI's) or `retry-after` in seconds, as an upstream sent it.
pub fn retry_after(ms: Option<&[u8]>, secs: Option<&[u8]>) -> Option<Duration> {
    let number = |v: &[u8]| std::str::from_utf8(v).ok()?.trim().parse::<f64>().ok();
    let ms = ms.and_then(number).map(|ms| ms / 1000.0);
    ms.or_else(|| secs.and_then(number))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

/// One attempt as the client is told of it.
pub fn told(provider: Option<&str>, model: &str, failure: &Failure) -> Attempt {
    Attempt {
        provider: provider.map(str::to_owned),
        model: model.to_owned(),
        status: match failure {
            Failure::Status { status, .. } | Failure::Invalid { status } => Some(*status),
            _ => None,
        },
        error: failure.code(),
    }
}

/// Whether every attempt failed the same way — the same code, not one of the kinds
/// [`outcome`] sums up (timeouts, rate limits, refused keys) — so that the client is told what
/// the last one would have told it alone (the upstream's own answer, or the gateway's words).
pub fn same_failure(failures: &[Failure]) -> bool {
    let Some(first) = failures.first() else {
        return false;
    };
    let summed = |f: &Failure| {
        *f == Failure::Timeout || matches!(f.class(), Class::RateLimited | Class::Credentials)
    };
    !summed(first) && failures.iter().all(|f| f.code() == first.code())
}

/// What the client is told when several attempts were made and none answered: 504 when every
/// attempt ran out of time (or the call's budget did), 429 with the shortest wait when every
/// one was rate-limited, 502 when every key was refused, else 503 listing the attempts.
pub fn outcome(failures: &[Failure], attempts: Vec<Attempt>, out_of_time: bool) -> GatewayError {
    let all = |f: &dyn Fn(&Failure) -> bool| !failures.is_empty() && failures.iter().all(f);
    let n = attempts.len();
    let mut error = if out_of_time || all(&|f| *f == Failure::Timeout) {
        GatewayError::new(
            Code::UpstreamTimeout,
            match out_of_time {
                true => format!(
                    "the call ran out of time (gateway.total_timeout_secs) after {n} attempt(s)"
                ),
                false => format!("none of {n} attempt(s) was answered in time"),
            },
        )
    } else if all(&|f| f.class() == Class::RateLimited) {
        let wait = failures
            .iter()
            .filter_map(|f| match f {
                Failure::Status { retry_after, .. } => *retry_after,
                Failure::Busy => Some(BUSY_RETRY_AFTER),
                _ => None,
            })
            .min();
        let mut e = GatewayError::new(
            Code::UpstreamRateLimited,
            format!("every one of {n} attempt(s) was rate-limited upstream"),
        );
        e.retry_after = Some(wait.unwrap_or(cooldown::RATE_LIMITED));
        e
    } else if all(&|f| f.class() == Class::Credentials) {
        GatewayError::new(
            Code::UpstreamCredentialsExhausted,
            format!("the upstream refused every key tried ({n} attempt(s)); check /provider-keys"),
        )
    } else {
        GatewayError::new(
            Code::AllAttemptsFailed,
            format!("none of {n} attempt(s) succeeded; `attempts` lists each"),
        )
    };
    error.attempts = attempts;
    error
}

#[cfg(test)]
mod tests {
    use super::super::error::Kind;
    use super::*;

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn each_status_has_its_class() {
        for (s, class) in [
            (401, Class::Credentials),
            (402, Class::Credentials),
            (403, Class::Credentials),
            (429, Class::RateLimited),
            (500, Class::Transient),
            (503, Class::Transient),
            (408, Class::Transient),
            (400, Class::Request),
            (404, Class::Request),
            (413, Class::Request),
            (422, Class::Request),
        ] {
            assert_eq!(status(s).class(), class, "{s}");
        }
        assert_eq!(Failure::Timeout.class(), Class::Transient);
        let invalid = Failure::Invalid { status: 999 };
        assert_eq!(invalid.class(), Class::Transient);
        assert!(invalid.retried() && invalid.tells_of_the_provider());
        assert_eq!(invalid.code(), Code::UpstreamInvalid);
        assert_eq!(
            Failure::StreamBroken(Code::StreamBroken).class(),
            Class::Transient
        );
        assert_eq!(status(401).rest(), Some(cooldown::REFUSED));
        assert_eq!(status(429).rest(), Some(cooldown::RATE_LIMITED));
        assert_eq!(status(500).rest(), None);
        assert_eq!(status(403).rest_cause(), cooldown::Cause::Refused(403));
        assert_eq!(status(429).rest_cause(), cooldown::Cause::RateLimited);
    }

    #[test]
    fn only_200_to_599_are_final_answers() {
        for s in [100, 101, 103, 199, 600, 999] {
            assert!(!is_final(s), "{s}");
        }
        for s in [200, 204, 304, 404, 599] {
            assert!(is_final(s), "{s}");
        }
    }

    #[test]
    fn retry_after_reads_milliseconds_first_then_seconds() {
        let d = |ms: Option<&str>, s: Option<&str>| {
            retry_after(ms.map(str::as_bytes), s.map(str::as_bytes))
        };
        assert_eq!(
            d(Some("1500"), Some("9")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(d(None, Some("7")), Some(Duration::from_secs(7)));
        assert_eq!(d(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(d(None, Some("-3")), None);
    }

    #[test]
    fn the_outcome_of_many_failures_follows_their_kinds() {
        let a = |f: &Failure| told(Some("p"), "m", f);
        let limited = |s| Failure::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(s)),
        };
        let fs = [limited(9), limited(3)];
        let e = outcome(&fs, fs.iter().map(a).collect(), false);
        assert_eq!(
            (e.kind(), e.retry_after),
            (Kind::RateLimited, Some(Duration::from_secs(3)))
        );
        let fs = [status(401), status(403)];
        let e = outcome(&fs, fs.iter().map(a).collect(), false);
        assert_eq!(e.code, Code::UpstreamCredentialsExhausted);
        assert_eq!(e.kind().status(), 502);
        let fs = [Failure::Timeout, Failure::Timeout];
        assert_eq!(outcome(&fs, vec![], false).kind().status(), 504);
        let fs = [Failure::Timeout, status(500)];
        assert_eq!(outcome(&fs, vec![], true).kind().status(), 504);
        let e = outcome(&fs, fs.iter().map(a).collect(), false);
        assert_eq!((e.kind().status(), e.attempts.len()), (503, 2));
        assert_eq!(e.attempts[1].status, Some(500));
        assert_eq!(e.attempts[0].error, Code::UpstreamTimeout);
    }
}
