//! A provider's status worked out from what the gateway knows of it: its breaker, its last
//! checks and its last success on the data plane. Pure, so each transition is tested here.

use crate::domain::health::HealthCheck;
use crate::gateway::policy::breaker::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A success (a check or a call) within the window, its breaker closed.
    Online,
    /// Its breaker half-open, or its last check failed for a reason other than the provider
    /// being down (a refused key, 429, an answer that is no model list).
    Degraded,
    /// Its breaker open, or its last check found it down (no connection, TLS, timeout, 5xx).
    Offline,
    /// No signal yet, or none within the window.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Degraded => "degraded",
            Status::Offline => "offline",
            Status::Unknown => "unknown",
        }
    }
}

/// What the status is read from.
pub struct Signals<'a> {
    /// Newest first.
    pub checks: &'a [HealthCheck],
    /// The last success on the data plane (ms since the epoch).
    pub passed_ms: Option<u64>,
    pub breaker: State,
    /// Wall-clock now, ms since the epoch.
    pub now_ms: u64,
    /// How long a success counts: two check intervals.
    pub window_ms: u64,
}

impl Signals<'_> {
    /// The newest success, by a check or by a call.
    pub fn last_ok_ms(&self) -> Option<u64> {
        let checked = self.checks.iter().find(|c| c.ok).map(|c| c.at_ms);
        checked.max(self.passed_ms)
    }

    /// The checks that failed since the last success.
    pub fn consecutive_failures(&self) -> u64 {
        let since = self.passed_ms.unwrap_or(0);
        self.checks
            .iter()
            .take_while(|c| !c.ok && c.at_ms > since)
            .count() as u64
    }

    pub fn status(&self) -> Status {
        match self.breaker {
            State::Open => return Status::Offline,
            State::HalfOpen => return Status::Degraded,
            State::Closed => {}
        }
        // A failed check stands until a success comes after it.
        if let Some(last) = self.checks.first()
            && !last.ok
            && self.passed_ms.is_none_or(|p| p <= last.at_ms)
        {
            return if last.down {
                Status::Offline
            } else {
                Status::Degraded
            };
        }
        match self.last_ok_ms() {
            Some(at) if self.now_ms.saturating_sub(at) <= self.window_ms => Status::Online,
            _ => Status::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(at_ms: u64, ok: bool, status_code: Option<u16>, down: bool) -> HealthCheck {
        HealthCheck {
            at_ms,
            ok,
            status_code,
            latency_ms: None,
            error: (!ok).then(|| "no".to_owned()),
            down,
        }
    }

    fn status(checks: &[HealthCheck], passed_ms: Option<u64>, breaker: State, now: u64) -> Status {
        Signals {
            checks,
            passed_ms,
            breaker,
            now_ms: now,
            window_ms: 100,
        }
        .status()
    }

    #[test]
    fn each_signal_gives_its_status() {
        use State::*;
        assert_eq!(status(&[], None, Closed, 1000), Status::Unknown);
        let ok = [check(1000, true, Some(200), false)];
        assert_eq!(status(&ok, None, Closed, 1050), Status::Online);
        assert_eq!(status(&ok, None, Closed, 1101), Status::Unknown, "stale");
        assert_eq!(status(&ok, None, Open, 1050), Status::Offline);
        assert_eq!(status(&ok, None, HalfOpen, 1050), Status::Degraded);
        let refused = [check(1000, false, Some(401), false)];
        assert_eq!(status(&refused, None, Closed, 1050), Status::Degraded);
        let down = [check(1000, false, Some(503), true)];
        assert_eq!(status(&down, None, Closed, 1050), Status::Offline);
        assert_eq!(status(&down, None, Closed, 9000), Status::Offline, "stands");
        // A call that succeeded after the failed check outweighs it; one before does not.
        assert_eq!(status(&down, Some(1001), Closed, 1050), Status::Online);
        assert_eq!(status(&down, Some(999), Closed, 1050), Status::Offline);
        assert_eq!(status(&[], Some(1000), Closed, 1050), Status::Online);
    }

    #[test]
    fn failures_count_since_the_last_success() {
        let checks = [
            check(30, false, None, true),
            check(20, false, None, true),
            check(10, true, Some(200), false),
            check(5, false, None, true),
        ];
        let s = |passed_ms| Signals {
            checks: &checks,
            passed_ms,
            breaker: State::Closed,
            now_ms: 40,
            window_ms: 100,
        };
        assert_eq!(s(None).consecutive_failures(), 2);
        assert_eq!(s(Some(25)).consecutive_failures(), 1);
        assert_eq!(s(Some(25)).last_ok_ms(), Some(25));
        assert_eq!(s(None).last_ok_ms(), Some(10));
    }
}
