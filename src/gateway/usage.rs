//! When each provider key and each stored API key was last used (`lastUsed`), written in
//! batches: every use is noted in memory, and once a second the newest use of each key is
//! written — one store write per key per second at most, never one durable write per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ulid::Ulid;

use crate::store::Store;

/// A key whose use is noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Used {
    /// A provider key, used for an upstream call.
    ProviderKey(Ulid),
    /// A stored management API key, presented by a caller.
    ApiKey(Ulid),
    /// An access key, presented by a caller.
    AccessKey(Ulid),
}

#[derive(Default)]
pub struct KeyUse {
    pending: Mutex<HashMap<Used, u64>>,
}

impl KeyUse {
    /// A provider key's use.
    pub fn record(&self, key: Ulid, at_ms: u64) {
        self.record_use(Used::ProviderKey(key), at_ms);
    }

    pub fn record_use(&self, key: Used, at_ms: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let newest = pending.entry(key).or_insert(at_ms);
        *newest = (*newest).max(at_ms);
    }

    /// The uses noted since the last call, newest per key.
    pub fn take(&self) -> Vec<(Used, u64)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *pending).into_iter().collect()
    }
}

/// Writes what `uses` noted, every `period`, for as long as the store is open (the task holds
/// it only while writing, so a stopped server's store closes). `lastUsed` is not part of a
/// key's version: writing it moves neither `updatedAt` nor the ETag.
pub async fn write_periodically(uses: Arc<KeyUse>, store: Weak<dyn Store>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(store) = store.upgrade() else {
            return;
        };
        for (used, at) in uses.take() {
            // A key deleted meanwhile, or a store refusing writes: the use is not worth more.
            let outcome = match used {
                Used::ProviderKey(id) => {
                    let change = Box::new(move |key: &crate::domain::ProviderKey| {
                        Ok((key.last_used_ms < Some(at)).then(|| {
                            let mut next = key.clone();
                            next.last_used_ms = Some(at);
                            next
                        }))
                    });
                    written(store.update_key(id, change)).await
                }
                Used::ApiKey(id) => {
                    let change = Box::new(move |key: &crate::domain::ApiKey| {
                        Ok((key.last_used_ms < Some(at)).then(|| {
                            let mut next = key.clone();
                            next.last_used_ms = Some(at);
                            next
                        }))
                    });
                    written(store.update_api_key(id, change)).await
                }
                Used::AccessKey(id) => {
                    let change = Box::new(move |key: &crate::domain::AccessKey| {
                        Ok((key.last_used_ms < Some(at)).then(|| {
                            let mut next = key.clone();
                            next.last_used_ms = Some(at);
                            next
                        }))
                    });
                    written(store.update_access_key(id, change)).await
                }
            };
            if let Err(e) = outcome {
                log::debug!("lastUsed of {used:?} not written: {e}");
            }
        }
    }
}

/// A `lastUsed` write carried to durability; a refusal (the key is gone) is no failure.
async fn written<T>(write: crate::store::Write<T>) -> Result<(), crate::store::StoreError> {
    match write.await? {
        Ok(applied) => applied.wait().await.map(drop),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_keeps_its_newest_use_until_taken() {
        let uses = KeyUse::default();
        let (a, b) = (Ulid::new(), Ulid::new());
        uses.record(a, 10);
        uses.record(a, 30);
        uses.record(a, 20);
        uses.record(b, 5);
        let mut taken = uses.take();
        taken.sort();
        let mut want = vec![(Used::ProviderKey(a), 30), (Used::ProviderKey(b), 5)];
        want.sort();
        assert_eq!(taken, want);
        assert!(uses.take().is_empty());
    }
}
