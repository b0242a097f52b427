//! Usage in a sled database of its own (`<data dir>/usage`): its own cache and its own
//! free-space reserve, set above the registry's, so that usage stops taking events before the
//! disk is too full for a provider write. A batch is one `sled::Batch` over the events, their
//! index entries and their days' sums, then a flush: durable when `append` resolves. The
//! layout is in [`layout`].

mod layout;
mod migrate;
mod prune;
mod read;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ulid::Ulid;

use super::writable_space;
use crate::domain::usage::{Group, UsageEvent};
use crate::store::usage::{DaySeries, EventQuery, UsageStore};
use crate::store::{Page, Pending, StoreError};
use layout::*;

/// The directory under the data dir that usage lives in.
pub const USAGE_DIR: &str = "usage";

#[derive(Clone)]
pub struct SledUsage(Arc<Inner>);

struct Inner {
    db: sled::Db,
    tree: sled::Tree,
    /// Held by whoever writes, so that a batch and a prune never interleave and day sums
    /// are read and written by one hand; holds the highest id a segment holds.
    writing: Mutex<Ulid>,
    dir: PathBuf,
    reserve_bytes: u64,
}

impl SledUsage {
    /// Opens (or makes) the usage database under `data_dir`, refusing batches while fewer
    /// than `reserve_bytes` are free.
    pub fn open(
        data_dir: &Path,
        cache_capacity_bytes: u64,
        reserve_bytes: u64,
    ) -> Result<SledUsage, StoreError> {
        let dir = data_dir.join(USAGE_DIR);
        let db = sled::Config::new()
            .path(&dir)
            .cache_capacity(cache_capacity_bytes)
            .open()?;
        let tree = db.open_tree(LOG)?;
        let moved = migrate::from_first_layout(&db, &tree)?;
        if moved > 0 {
            log::info!("usage: {moved} events rewritten into the segment layout");
        }
        let high = write::highest(&tree)?;
        Ok(SledUsage(Arc::new(Inner {
            db,
            tree,
            writing: Mutex::new(high),
            dir,
            reserve_bytes,
        })))
    }

    fn blocking<T, F>(&self, work: F) -> Pending<T>
    where
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(&inner))
                .await
                .map_err(|e| StoreError::Blocking(Box::new(e)))?
        })
    }
}

impl Inner {
    fn append(&self, mut events: Vec<UsageEvent>) -> Result<(), StoreError> {
        let free = writable_space(&self.dir)?;
        if free < self.reserve_bytes {
            return Err(StoreError::Full {
                free,
                reserve: self.reserve_bytes,
            });
        }
        events.sort_unstable_by_key(|e| e.id);
        let mut high = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = sled::Batch::default();
        let new_high = write::add_events(&mut batch, &events, *high)?;
        write::add_days(&mut batch, &self.tree, &events)?;
        if let Err(e) = self.tree.apply_batch(batch) {
            // Part of it may be in the tree: the floor is what the tree holds now.
            *high = write::highest(&self.tree)?;
            return Err(e.into());
        }
        // Applied, so in the tree even if the flush fails: the next batch's segments must
        // begin above these, or two would overlap.
        *high = new_high;
        // The batch writer calls this at most every 100 ms, alone: no flush races another.
        self.db.flush()?;
        Ok(())
    }

    fn days(&self, group: Group, first: u32, last: u32) -> Result<DaySeries, StoreError> {
        let mut series = DaySeries::new();
        for day in first..=last {
            for entry in self.tree.scan_prefix(day_prefix(day, group)) {
                let (key, bytes) = entry?;
                let Some(at) = day_of_entry(&key) else {
                    continue;
                };
                series.insert(at, crate::store::sled::codec::decode(&key, &bytes)?);
            }
        }
        Ok(series)
    }

    fn prune_before(&self, before_ms: u64) -> Result<u64, StoreError> {
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        let removed = prune::before(&self.tree, before_ms)?;
        self.db.flush()?;
        Ok(removed)
    }
}

impl UsageStore for SledUsage {
    fn append(&self, events: Vec<UsageEvent>) -> Pending<()> {
        self.blocking(move |inner| inner.append(events))
    }

    fn events(&self, query: &EventQuery) -> Result<Page<UsageEvent>, StoreError> {
        read::page(&self.0.tree, query)
    }

    fn days(&self, group: Group, first: u32, last: u32) -> Result<DaySeries, StoreError> {
        self.0.days(group, first, last)
    }

    fn prune_before(&self, before_ms: u64) -> Pending<u64> {
        self.blocking(move |inner| inner.prune_before(before_ms))
    }

    fn oldest_ms(&self) -> Result<Option<u64>, StoreError> {
        prune::oldest_ms(&self.0.tree)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.0.db.size_on_disk()?)
    }
}

#[cfg(test)]
mod tests;
