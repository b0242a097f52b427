//! A pass against a store whose events and size the test sets: what goes for age, what goes
//! for size, and that today's events never go for size.

use std::sync::Mutex;

use super::*;
use crate::domain::usage::{Group, UsageEvent};
use crate::store::usage::{DaySeries, EventQuery};
use crate::store::{Page, Pending};

/// Events by the time they ended, and a size on disk that shrinks with them.
struct Held {
    at_ms: Mutex<Vec<u64>>,
    bytes_each: u64,
}

impl UsageStore for Held {
    fn append(&self, events: Vec<UsageEvent>) -> Pending<()> {
        self.at_ms
            .lock()
            .unwrap()
            .extend(events.iter().map(UsageEvent::at_ms));
        Box::pin(async { Ok(()) })
    }

    fn events(&self, _: &EventQuery) -> Result<Page<UsageEvent>, StoreError> {
        Ok(Page {
            items: Vec::new(),
            has_more: false,
        })
    }

    fn days(&self, _: Group, _: u32, _: u32) -> Result<DaySeries, StoreError> {
        Ok(DaySeries::new())
    }

    fn prune_before(&self, before_ms: u64) -> Pending<u64> {
        let mut held = self.at_ms.lock().unwrap();
        let was = held.len();
        held.retain(|&at| at >= before_ms);
        let gone = (was - held.len()) as u64;
        Box::pin(async move { Ok(gone) })
    }

    fn oldest_ms(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.at_ms.lock().unwrap().iter().min().copied())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.at_ms.lock().unwrap().len() as u64 * self.bytes_each)
    }
}

/// 2026-12-04T00:00:00Z.
const T0: u64 = 20_426 * DAY_MS;
const MIB: u64 = 1024 * 1024;

fn store(days_ago: &[u64]) -> Held {
    Held {
        // Noon of each day, so a day's start cuts between them.
        at_ms: Mutex::new(
            days_ago
                .iter()
                .map(|d| T0 - d * DAY_MS + DAY_MS / 2)
                .collect(),
        ),
        bytes_each: MIB,
    }
}

fn settings(retention_days: u32, max_mib: u64) -> UsageSettings {
    UsageSettings {
        retention_days,
        max_mib,
        ..UsageSettings::default()
    }
}

fn run(f: impl std::future::Future<Output = Result<Pruned, StoreError>>) -> Pruned {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
        .unwrap()
}

#[test]
fn events_past_retention_go_and_the_rest_stay() {
    let held = store(&[40, 31, 29, 0]);
    let now = T0 + DAY_MS / 2;
    let pruned = run(pass(&held, &settings(30, 0), now));
    assert_eq!(
        pruned,
        Pruned {
            expired: 2,
            for_size: 0
        }
    );
    assert_eq!(held.at_ms.lock().unwrap().len(), 2);
}

#[test]
fn over_max_mib_the_oldest_day_goes_one_a_pass_but_never_today() {
    // Four events of a MiB each: two on the oldest day, one a day ago, one today.
    let held = store(&[3, 3, 1, 0]);
    let now = T0 + DAY_MS / 2;
    let limits = settings(30, 2);
    assert_eq!(
        run(pass(&held, &limits, now)),
        Pruned {
            expired: 0,
            for_size: 2
        }
    );
    // Still at the bound (2 MiB is not over 2 MiB): nothing more goes.
    assert_eq!(run(pass(&held, &limits, now)), Pruned::default());
    let limits = settings(30, 1);
    assert_eq!(
        run(pass(&held, &limits, now)),
        Pruned {
            expired: 0,
            for_size: 1
        }
    );
    // Only today's are left: over the bound still, they stay.
    held.at_ms.lock().unwrap().push(now + 1);
    assert_eq!(run(pass(&held, &limits, now)), Pruned::default());
    assert_eq!(held.at_ms.lock().unwrap().len(), 2);
}
