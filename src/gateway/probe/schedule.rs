//! The background checks: every registered provider, and each catalog provider once a key is
//! filed for it, is probed every `health.interval_secs` (jittered by up to a tenth either way,
//! so providers added together do not stay in step), at most [`IN_FLIGHT`] at once; the first
//! check comes an interval after start, or after the provider appears. Each check goes as
//! `POST /providers/{id}/test` goes (`Gateway::probe_route`) and is kept the same way.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::time::Instant;
use ulid::Ulid;

use crate::domain::catalog::CATALOG;
use crate::gateway::Gateway;
use crate::gateway::table::{Route, Snapshot};

/// Checks running at once, at most.
pub const IN_FLIGHT: usize = 4;
/// How often the schedule is looked at: the finest interval is 1 s.
const TICK: Duration = Duration::from_millis(250);

/// A provider in the schedule: no allocation per provider per tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Registered(Ulid),
    Catalog(&'static str),
}

/// What a catalog provider's check found listed is handed to: the registry keeps it as the
/// provider's discovered models (the gateway writes no record itself).
pub type OnListed = Arc<
    dyn Fn(&'static str, Vec<String>) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync,
>;

/// Runs the checks for as long as the gateway lives (its owner aborts the task at shutdown).
/// A catalog provider's check also discovers its models, handed to `on_listed`.
pub async fn run(gateway: Weak<Gateway>, on_listed: Option<OnListed>) {
    // When each provider is due, and the pass that last saw it (to forget deleted ones).
    let mut due: HashMap<Key, (Instant, u64)> = HashMap::new();
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for pass in 0u64.. {
        ticks.tick().await;
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        let interval = gateway.health().interval;
        let now = Instant::now();
        let mut ready = Vec::new();
        for (key, route) in checked(&gateway.snapshot()) {
            let key_of = key;
            let (at, seen) = due
                .entry(key)
                .or_insert_with(|| (now + jittered(interval), pass));
            *seen = pass;
            if *at <= now {
                *at = now + jittered(interval);
                ready.push((key_of, route));
            }
        }
        due.retain(|_, (_, seen)| *seen == pass);
        futures_util::stream::iter(ready)
            .for_each_concurrent(IN_FLIGHT, |(key, route)| {
                let (gateway, on_listed) = (&gateway, &on_listed);
                async move {
                    match (key, on_listed) {
                        (Key::Catalog(id), Some(on_listed)) => {
                            if let Some(found) = gateway.discover(id).await
                                && found.check.ok
                                && !found.cut
                            {
                                on_listed(id, found.ids).await;
                            }
                        }
                        _ => {
                            gateway.probe_route(&route).await;
                        }
                    }
                }
            })
            .await;
    }
}

/// The providers checked: every registered one, and the catalog's that have a key.
fn checked(snapshot: &Snapshot) -> Vec<(Key, Arc<Route>)> {
    let registered = snapshot
        .providers()
        .filter_map(|route| Some((Key::Registered(route.id?), Arc::clone(route))));
    let catalog = CATALOG
        .iter()
        .filter(|entry| !snapshot.keys(entry.id).is_empty())
        .filter_map(|entry| {
            let route = snapshot.route(entry.id).filter(|r| r.catalog)?;
            Some((Key::Catalog(entry.id), Arc::clone(route)))
        });
    registered.chain(catalog).collect()
}

/// `interval` moved by up to a tenth either way.
fn jittered(interval: Duration) -> Duration {
    let tenth = interval / 10;
    let spread = u64::try_from(tenth.as_millis() * 2).unwrap_or(u64::MAX);
    if spread == 0 {
        return interval;
    }
    let roll = getrandom::u64().unwrap_or(0) % (spread + 1);
    interval - tenth + Duration::from_millis(roll)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jitter_stays_within_a_tenth() {
        let interval = Duration::from_secs(60);
        for _ in 0..100 {
            let d = jittered(interval);
            assert!(
                d >= Duration::from_secs(54) && d <= Duration::from_secs(66),
                "{d:?}"
            );
        }
        assert_eq!(jittered(Duration::from_millis(5)), Duration::from_millis(5));
    }
}
