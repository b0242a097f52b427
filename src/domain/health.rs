//! A provider's health checks as they are kept: what one probe of its model list found, and the
//! bounded history of them, newest first. The gateway makes them; the store keeps them so that
//! a restart does not forget them.

use serde::{Deserialize, Serialize};

/// How many checks a provider keeps.
pub const HISTORY: usize = 50;

/// One check of a provider, as `GET /providers/{id}/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// When it ended (ms since the epoch).
    pub at_ms: u64,
    pub ok: bool,
    pub status_code: Option<u16>,
    pub latency_ms: Option<u64>,
    /// Why it failed, already scrubbed of credentials and cut.
    pub error: Option<String>,
    /// A failure that tells of the provider itself (no connection, TLS, a timeout, a 5xx), as
    /// opposed to one of the key, the request or the answer's shape.
    pub down: bool,
}

/// `history` (newest first) with `check` put in its place by time (before those of the same
/// time), at most [`HISTORY`] long. Checks can be written out of order (two in flight at once).
pub fn merged(mut history: Vec<HealthCheck>, check: HealthCheck) -> Vec<HealthCheck> {
    let at = history
        .iter()
        .position(|c| c.at_ms <= check.at_ms)
        .unwrap_or(history.len());
    history.insert(at, check);
    history.truncate(HISTORY);
    history
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> HealthCheck {
        HealthCheck {
            at_ms: ms,
            ok: true,
            status_code: Some(200),
            latency_ms: Some(1),
            error: None,
            down: false,
        }
    }

    #[test]
    fn checks_stay_newest_first_and_bounded() {
        let mut h = Vec::new();
        for ms in [3, 1, 2, 2] {
            h = merged(h, at(ms));
        }
        let times: Vec<u64> = h.iter().map(|c| c.at_ms).collect();
        assert_eq!(times, [3, 2, 2, 1]);
        for ms in 10..100 {
            h = merged(h, at(ms));
        }
        assert_eq!(h.len(), HISTORY);
        assert_eq!(h[0].at_ms, 99);
        // One older than every kept check falls off at once.
        let h2 = merged(h.clone(), at(0));
        assert_eq!(h2, h);
    }
}
