//! What the gateway knows of each provider's health, and what it tells: each check of its
//! model list (`probe`, run by `POST /providers/{id}/test` or by the background checks of
//! `probe/schedule`) is kept in the provider's state and, for a registered provider, written
//! to the store (never on a call's path: a call only notes its success); a check that finds the provider down counts once in its
//! breaker, and one that succeeds closes a half-open breaker. A call's success counts too
//! (`ProviderState::passed`). `status` turns all that into one word.

pub mod status;

use std::sync::{Arc, Weak};
use std::time::Duration;

use ulid::Ulid;

use super::Gateway;
use super::policy::breaker::State;
use super::policy::clock::Clock;
use super::state::Check;
use super::table::Route;
use crate::domain::health::HealthCheck;
use crate::domain::now_ms;
use crate::store::Store;
use status::{Signals, Status};

/// How the gateway watches providers' health.
pub struct Health {
    /// How often each provider is checked in the background; a success counts for two.
    pub interval: Duration,
    /// `gateway.hide_offline_models`: `/v1/models` leaves out offline providers' models.
    pub hide_offline: bool,
    /// The wall clock (ms since the epoch) that checks and successes are timed by; tests move
    /// their own.
    pub wall: Clock,
    /// Where checks are kept across restarts.
    pub store: Option<Weak<dyn Store>>,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            interval: Duration::from_secs(60),
            hide_offline: false,
            wall: Arc::new(now_ms),
            store: None,
        }
    }
}

/// A provider's health as `GET /providers/{id}/health` shows it.
#[derive(Debug)]
pub struct Report {
    pub status: Status,
    pub last_checked_ms: Option<u64>,
    pub last_ok_ms: Option<u64>,
    pub latency_ms: Option<u64>,
    pub last_error: Option<String>,
    pub consecutive_failures: u64,
    pub breaker: State,
    /// Newest first.
    pub checks: Vec<HealthCheck>,
}

impl Gateway {
    pub fn with_health(mut self, health: Health) -> Gateway {
        self.health = health;
        self
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Wall-clock now, ms since the epoch.
    pub fn wall_ms(&self) -> u64 {
        (self.health.wall)()
    }

    /// Keeps a check of `route`: in its state, in its breaker, and (a registered provider's)
    /// durably in the store before it returns, so a test's answer tells of a kept check. No
    /// call waits on it: checks are made beside the data plane, never in a call.
    pub(super) async fn keep(&self, route: &Route, check: &Check) {
        route.state.record_check(check.clone());
        let kept = check.kept();
        route.state.add_checks([kept.clone()]);
        let now = (self.clock)();
        if check.down {
            route.state.record(now, &route.slug, true);
        } else if check.ok && route.state.breaker(now) != State::Open {
            route.state.record(now, &route.slug, false);
        }
        let (Some(id), Some(store)) = (route.id, self.health.store.as_ref()) else {
            return;
        };
        let Some(store) = store.upgrade() else {
            return;
        };
        let write = store.add_health_check(id, kept);
        drop(store);
        let written = match write.await {
            Ok(Ok(applied)) => applied.wait().await.map(drop),
            // Deleted meanwhile: nothing to keep.
            Ok(Err(_)) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            log::warn!("a health check of provider {id} was not kept: {e}");
        }
    }

    /// Puts the checks the store kept into the providers' states (at start).
    pub fn restore_health(&self, all: Vec<(Ulid, Vec<HealthCheck>)>) {
        let snapshot = self.snapshot();
        for (id, checks) in all {
            if let Some(route) = snapshot.slug_of(id).and_then(|s| snapshot.route(s)) {
                route.state.add_checks(checks);
            }
        }
    }

    /// The health of registered provider `id`; `None` when the table has no such provider.
    pub fn health_of(&self, id: Ulid) -> Option<Report> {
        let snapshot = self.snapshot();
        let route = snapshot.route(snapshot.slug_of(id)?)?;
        let checks = route.state.checks();
        let signals = self.signals(route, &checks);
        let last = checks.first();
        Some(Report {
            status: signals.status(),
            last_checked_ms: last.map(|c| c.at_ms),
            last_ok_ms: signals.last_ok_ms(),
            latency_ms: last.and_then(|c| c.latency_ms),
            last_error: last.and_then(|c| c.error.clone()),
            consecutive_failures: signals.consecutive_failures(),
            breaker: signals.breaker,
            checks: checks.clone(),
        })
    }

    /// The status word of `route`.
    pub fn status_of(&self, route: &Route) -> Status {
        route
            .state
            .read_checks(|checks| self.signals(route, checks).status())
    }

    fn signals<'c>(&self, route: &Route, checks: &'c [HealthCheck]) -> Signals<'c> {
        let window = self.health.interval.saturating_mul(2);
        Signals {
            checks,
            passed_ms: route.state.last_passed(),
            breaker: route.state.breaker((self.clock)()),
            now_ms: self.wall_ms(),
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
        }
    }
}
