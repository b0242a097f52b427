//! What the gateway learns of each provider while it runs — its circuit breaker, its queue
//! (`concurrency`/`bufferSize`), the last check of it (`probe`), its health checks and its last
//! successful call (`health`), and the home for any per-provider runtime state to come —
//! kept in one place per provider. The routing table hands the same state to every new version
//! of a provider's route (by the provider's id), so a change to its record keeps what calls
//! have taught the gateway and the calls in flight keep counting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use super::attempt::limiter::Limiter;
use super::policy::breaker::{Breaker, State};
use super::policy::weighted::Weighted;
use crate::domain::health::{HealthCheck, merged};

#[derive(Debug, Default)]
pub struct ProviderState {
    breaker: Mutex<Breaker>,
    /// `None` while the provider sets no `concurrency`.
    limiter: ArcSwapOption<Limiter>,
    /// The last probe of the provider's model list (`POST /providers/{id}/test`, or of one of
    /// its keys); in memory only, so a restart forgets it.
    last_check: ArcSwapOption<Check>,
    /// The last success of a call (ms since the epoch; 0: none since start). A call's only
    /// health cost: one relaxed store.
    passed_ms: AtomicU64,
    /// Its last checks (`domain::health`), newest first: loaded from the store at start, and
    /// each new one put in by `gateway::health`. Never touched by a call.
    checks: Mutex<Vec<HealthCheck>>,
    /// Where the weighted round robin over its keys stands; touched only by a call to a
    /// provider with a key that has a `weight`.
    weighted: Weighted,
}

/// What one probe of a provider's model list found; `None` where it is not known (no answer
/// came, or none was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// When the probe ended (ms since the epoch).
    pub at_ms: u64,
    /// The provider key it was made with, if any.
    pub key: Option<ulid::Ulid>,
    pub ok: bool,
    pub status_code: Option<u16>,
    pub latency_ms: Option<u64>,
    pub models_found: Option<u64>,
    /// Why it failed: the gateway's words, or the upstream's, scrubbed of credentials.
    pub error: Option<String>,
    /// It failed because of the provider itself: no connection, TLS, a timeout, a 5xx.
    pub down: bool,
}

impl Check {
    /// The check as the provider's history keeps it.
    pub fn kept(&self) -> HealthCheck {
        HealthCheck {
            at_ms: self.at_ms,
            ok: self.ok,
            status_code: self.status_code,
            latency_ms: self.latency_ms,
            error: self.error.clone(),
            down: self.down,
        }
    }
}

impl ProviderState {
    pub fn breaker(&self, now: u64) -> State {
        self.lock().state(now)
    }

    /// Notes how a call went for the breaker: `failed` for a failure that tells of the provider.
    pub fn record(&self, now: u64, provider: &str, failed: bool) {
        self.lock().record(now, provider, failed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record_check(&self, check: Check) {
        self.last_check.store(Some(Arc::new(check)));
    }

    pub fn last_check(&self) -> Option<Arc<Check>> {
        self.last_check.load_full()
    }

    /// A call to the provider succeeded at `at_ms`.
    pub fn passed(&self, at_ms: u64) {
        self.passed_ms.store(at_ms, Ordering::Relaxed);
    }

    pub fn last_passed(&self) -> Option<u64> {
        Some(self.passed_ms.load(Ordering::Relaxed)).filter(|at| *at != 0)
    }

    /// Puts checks into the history (a new one, or those the store kept).
    pub fn add_checks(&self, checks: impl IntoIterator<Item = HealthCheck>) {
        let mut kept = self.checks.lock().unwrap_or_else(|e| e.into_inner());
        for check in checks {
            *kept = merged(std::mem::take(&mut *kept), check);
        }
    }

    /// The history, newest first.
    pub fn checks(&self) -> Vec<HealthCheck> {
        self.read_checks(<[HealthCheck]>::to_vec)
    }

    /// What `read` makes of the history (newest first), without copying it.
    pub fn read_checks<T>(&self, read: impl FnOnce(&[HealthCheck]) -> T) -> T {
        read(&self.checks.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn weighted(&self) -> &Weighted {
        &self.weighted
    }

    pub fn limiter(&self) -> Option<Arc<Limiter>> {
        self.limiter.load_full()
    }

    /// Sets the queue to `size` (concurrency, queue), keeping the one in use when its size did
    /// not change, so that calls in flight still count against it.
    pub fn size_queue(&self, size: Option<(u32, u32)>) {
        let current = self.limiter.load();
        let same = match (current.as_deref(), size) {
            (None, None) => true,
            (Some(l), Some(s)) => (l.concurrency, l.queue) == s,
            _ => false,
        };
        if !same {
            self.limiter
                .store(size.map(|(c, q)| Arc::new(Limiter::new(c, q))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_of_the_same_size_is_kept_and_a_new_size_replaces_it() {
        let state = ProviderState::default();
        state.size_queue(Some((1, 2)));
        let first = state.limiter().unwrap();
        state.size_queue(Some((1, 2)));
        assert!(Arc::ptr_eq(&first, &state.limiter().unwrap()));
        state.size_queue(Some((2, 2)));
        assert_eq!(state.limiter().unwrap().concurrency, 2);
        state.size_queue(None);
        assert!(state.limiter().is_none());
    }

    #[test]
    fn the_last_check_replaces_the_one_before() {
        let state = ProviderState::default();
        assert!(state.last_check().is_none());
        let check = |ok| Check {
            at_ms: 1,
            key: None,
            ok,
            status_code: None,
            latency_ms: None,
            models_found: None,
            error: None,
            down: false,
        };
        state.record_check(check(false));
        state.record_check(check(true));
        assert!(state.last_check().unwrap().ok);
    }
}
