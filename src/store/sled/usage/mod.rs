//! Usage in a sled database of its own (`<data dir>/usage`): its own cache and its own
//! free-space reserve, set above the registry's, so that usage stops taking events before the
//! disk is too full for a provider write. A batch is one transaction over the events, their
//! indexes and their days' sums, then a flush: durable when `append` resolves.

mod layout;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use ulid::Ulid;

use super::codec::{decode, encode};
use super::writable_space;
use crate::domain::usage::{DayTotals, Group, RawExchange, UsageEvent, day_of};
use crate::store::usage::{DaySeries, EventQuery, UsageStore};
use crate::store::{Page, Pending, StoreError};
use layout::*;

/// The directory under the data dir that usage lives in.
pub const USAGE_DIR: &str = "usage";

#[derive(Clone)]
pub struct SledUsage(Arc<Inner>);

struct Inner {
    db: sled::Db,
    events: sled::Tree,
    finals: sled::Tree,
    by_key: sled::Tree,
    by_key_final: sled::Tree,
    days: sled::Tree,
    /// event id → its bodies (`RawExchange`, JSON), for the events that keep them.
    raw: sled::Tree,
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
    ) -> Result<SledUsage, sled::Error> {
        let dir = data_dir.join(USAGE_DIR);
        let db = sled::Config::new()
            .path(&dir)
            .cache_capacity(cache_capacity_bytes)
            .open()?;
        Ok(SledUsage(Arc::new(Inner {
            events: db.open_tree(EVENTS)?,
            finals: db.open_tree(FINALS)?,
            by_key: db.open_tree(BY_KEY)?,
            by_key_final: db.open_tree(BY_KEY_FINAL)?,
            days: db.open_tree(DAYS)?,
            raw: db.open_tree(RAW)?,
            db,
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

type TxError = ConflictableTransactionError<StoreError>;

fn settle<T>(result: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    })
}

impl Inner {
    fn append(&self, events: &[UsageEvent]) -> Result<(), StoreError> {
        let free = writable_space(&self.dir)?;
        if free < self.reserve_bytes {
            return Err(StoreError::Full {
                free,
                reserve: self.reserve_bytes,
            });
        }
        // The day sums this batch adds, worked out before the transaction (which may run
        // more than once) so that each retry adds the same.
        let mut sums: std::collections::BTreeMap<Vec<u8>, DayTotals> = Default::default();
        let mut encoded = Vec::with_capacity(events.len());
        for event in events {
            for group in Group::ALL {
                let entry = day_entry(day_of(event.at_ms()), group, group.key_of(event));
                sums.entry(entry).or_default().add(event);
            }
            let raw = match &event.raw {
                None => None,
                Some(raw) => {
                    Some(serde_json::to_vec(raw).map_err(|e| StoreError::Encode(Box::new(e)))?)
                }
            };
            encoded.push((encode(event)?, raw));
        }
        let trees = (
            &self.events,
            &self.finals,
            &self.by_key,
            &self.by_key_final,
            &self.days,
            &self.raw,
        );
        settle(
            trees.transaction(|(ev, fin, key, key_fin, days, raw_tree)| {
                for (event, (bytes, raw)) in events.iter().zip(&encoded) {
                    let id = event.id.to_bytes();
                    ev.insert(&id, bytes.as_slice())?;
                    if let Some(raw) = raw {
                        raw_tree.insert(&id, raw.as_slice())?;
                    }
                    let entry = key_entry(event.access_key(), event.id);
                    key.insert(entry.as_slice(), &[])?;
                    if event.is_final_attempt {
                        fin.insert(&id, &[])?;
                        key_fin.insert(entry, &[])?;
                    }
                }
                for (entry, add) in &sums {
                    let mut total: DayTotals = match days.get(entry)? {
                        Some(bytes) => decode(entry, &bytes).map_err(TxError::Abort)?,
                        None => DayTotals::default(),
                    };
                    total.merge(add);
                    days.insert(entry.as_slice(), encode(&total).map_err(TxError::Abort)?)?;
                }
                Ok(())
            }),
        )?;
        // The batch writer calls this at most every 100 ms, alone: no flush races another.
        self.db.flush()?;
        Ok(())
    }

    fn event(&self, id: Ulid) -> Result<Option<UsageEvent>, StoreError> {
        let key = id.to_bytes();
        self.events
            .get(key)?
            .map(|bytes| decode(&key, &bytes))
            .transpose()
    }

    fn events(&self, q: &EventQuery) -> Result<Page<UsageEvent>, StoreError> {
        let mut upper = last_of(q.end_ms);
        if let Some(before) = q.before {
            // The previous page's last event is below every event of this one.
            match before.0.checked_sub(1) {
                Some(below) => upper = upper.min(Ulid(below)),
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        has_more: false,
                    });
                }
            }
        }
        let lower = first_of(q.start_ms);
        if lower > upper {
            return Ok(Page {
                items: Vec::new(),
                has_more: false,
            });
        }
        let ids: Box<dyn Iterator<Item = sled::Result<Ulid>>> = match &q.access_key {
            None if q.include_retries => Box::new(
                self.events
                    .range(lower.to_bytes()..=upper.to_bytes())
                    .rev()
                    .map(|r| r.map(|(k, _)| id_of(&k).unwrap_or_default())),
            ),
            None => Box::new(
                self.finals
                    .range(lower.to_bytes()..=upper.to_bytes())
                    .rev()
                    .map(|r| r.map(|(k, _)| id_of(&k).unwrap_or_default())),
            ),
            Some(key) => {
                let tree = match q.include_retries {
                    true => &self.by_key,
                    false => &self.by_key_final,
                };
                Box::new(
                    tree.range(key_entry(key, lower)..=key_entry(key, upper))
                        .rev()
                        .map(|r| r.map(|(k, _)| id_of(&k).unwrap_or_default())),
                )
            }
        };
        let mut items = Vec::with_capacity(q.limit.min(1024));
        let mut has_more = false;
        for id in ids {
            let id = id?;
            if items.len() == q.limit {
                has_more = true;
                break;
            }
            // An index entry whose event a prune has just removed is passed over.
            if let Some(mut event) = self.event(id)? {
                if q.with_raw {
                    event.raw = self.raw_of(id)?;
                }
                items.push(event);
            }
        }
        Ok(Page { items, has_more })
    }

    fn raw_of(&self, id: Ulid) -> Result<Option<Box<RawExchange>>, StoreError> {
        let key = id.to_bytes();
        let Some(bytes) = self.raw.get(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                key: id.to_string(),
                source: Box::new(e),
            })
    }

    fn days(&self, group: Group, first: u32, last: u32) -> Result<DaySeries, StoreError> {
        let mut series = DaySeries::new();
        for day in first..=last {
            for entry in self.days.scan_prefix(day_prefix(day, group)) {
                let (key, bytes) = entry?;
                let Some(at) = day_of_entry(&key) else {
                    continue;
                };
                series.insert(at, decode(&key, &bytes)?);
            }
        }
        Ok(series)
    }

    fn prune_before(&self, before_ms: u64) -> Result<u64, StoreError> {
        let upper = first_of(before_ms).to_bytes();
        let mut removed = 0;
        // In slices, so that a year of events never sits in memory at once.
        loop {
            let mut batch = Vec::new();
            for entry in self.events.range(..upper).take(1024) {
                let (key, bytes) = entry?;
                batch.push((key.clone(), decode::<UsageEvent>(&key, &bytes)?));
            }
            if batch.is_empty() {
                break;
            }
            let mut ev = sled::Batch::default();
            let mut fin = sled::Batch::default();
            let mut by_key = sled::Batch::default();
            let mut by_key_final = sled::Batch::default();
            let mut raw = sled::Batch::default();
            for (key, event) in &batch {
                ev.remove(key.clone());
                raw.remove(key.clone());
                fin.remove(key.clone());
                let entry = key_entry(event.access_key(), event.id);
                by_key.remove(entry.clone());
                by_key_final.remove(entry);
            }
            // Indexes first: an event whose index entries are gone is never listed, and one
            // whose entries outlive it is passed over by readers.
            self.finals.apply_batch(fin)?;
            self.by_key.apply_batch(by_key)?;
            self.by_key_final.apply_batch(by_key_final)?;
            self.events.apply_batch(ev)?;
            self.raw.apply_batch(raw)?;
            removed += batch.len() as u64;
        }
        let first_kept_day = day_of(before_ms);
        let mut days = sled::Batch::default();
        for entry in self.days.range(..first_kept_day.to_be_bytes()) {
            days.remove(entry?.0);
        }
        self.days.apply_batch(days)?;
        self.db.flush()?;
        Ok(removed)
    }
}

impl UsageStore for SledUsage {
    fn append(&self, events: Vec<UsageEvent>) -> Pending<()> {
        self.blocking(move |inner| inner.append(&events))
    }

    fn events(&self, query: &EventQuery) -> Result<Page<UsageEvent>, StoreError> {
        self.0.events(query)
    }

    fn days(&self, group: Group, first: u32, last: u32) -> Result<DaySeries, StoreError> {
        self.0.days(group, first, last)
    }

    fn prune_before(&self, before_ms: u64) -> Pending<u64> {
        self.blocking(move |inner| inner.prune_before(before_ms))
    }

    fn oldest_ms(&self) -> Result<Option<u64>, StoreError> {
        Ok(self
            .0
            .events
            .first()?
            .and_then(|(k, _)| id_of(&k))
            .map(|id| id.timestamp_ms()))
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.0.db.size_on_disk()?)
    }
}

#[cfg(test)]
mod tests;
