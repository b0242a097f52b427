//! Where usage events and their daily sums are kept: apart from the registry (its own engine
//! files, cache and free-space reserve), so that a usage store that fills never stops a
//! provider write, and so that a networked backend can keep them in its own tables.

use std::collections::BTreeMap;

use ulid::Ulid;

use super::{Page, Pending, StoreError};
use crate::domain::usage::{DayTotals, Group, UsageEvent};

/// Which events a page of `/usage` holds.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Inclusive bounds on `eventTime`, in ms.
    pub start_ms: u64,
    pub end_ms: u64,
    pub access_key: Option<String>,
    /// Retries too, or only each request's final attempt.
    pub include_retries: bool,
    /// Only events with ids below this one (the previous page's last).
    pub before: Option<Ulid>,
    pub limit: usize,
    /// The events' kept bodies too (`RawExchange`), for those that have them.
    pub with_raw: bool,
}

/// The daily sums of one group, by day and group key.
pub type DaySeries = BTreeMap<(u32, String), DayTotals>;

pub trait UsageStore: Send + Sync {
    /// Appends `events` and adds them to their days' sums, in one batch: resolved once the
    /// batch is durable.
    fn append(&self, events: Vec<UsageEvent>) -> Pending<()>;
    /// A page of the events `query` asks for, newest first.
    fn events(&self, query: &EventQuery) -> Result<Page<UsageEvent>, StoreError>;
    /// The sums of the days `first..=last`, by `group`.
    fn days(&self, group: Group, first: u32, last: u32) -> Result<DaySeries, StoreError>;
    /// Removes the events before `before_ms` and the sums of the days wholly before it;
    /// answers how many events went.
    fn prune_before(&self, before_ms: u64) -> Pending<u64>;
    /// When the oldest event kept ended, in ms; `None` when none is kept.
    fn oldest_ms(&self) -> Result<Option<u64>, StoreError>;
    /// Bytes the store takes on disk.
    fn size_on_disk(&self) -> Result<u64, StoreError>;
}
