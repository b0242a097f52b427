//! Providers' health checks: one record per provider in the `provider_health` tree, under its
//! id, holding its last checks newest first. A check is merged in inside a transaction that
//! also reads the provider's record, so a check that ends after the provider's delete (which
//! removes the record in its own transaction, `providers`) writes nothing.

use sled::Transactional;
use ulid::Ulid;

use super::SledStore;
use super::codec::{decode, encode};
use super::engine::{failed, reject};
use crate::domain::health::{HealthCheck, merged};
use crate::store::{HealthStore, Rejection, StoreError, Write};

impl HealthStore for SledStore {
    fn add_health_check(&self, id: Ulid, check: HealthCheck) -> Write<()> {
        self.write(move |e| {
            let key = id.to_bytes();
            let result = (&e.records, &e.health).transaction(|(records, health)| {
                if records.get(key)?.is_none() {
                    return reject(Rejection::NotFound);
                }
                let history: Vec<HealthCheck> = match health.get(key)? {
                    Some(bytes) => decode(&key, &bytes).map_err(failed)?,
                    None => Vec::new(),
                };
                let next = merged(history, check.clone());
                health.insert(&key[..], encode(&next).map_err(failed)?)?;
                Ok(((), true))
            });
            e.settle(result)
        })
    }

    fn all_health(&self) -> Result<Vec<(Ulid, Vec<HealthCheck>)>, StoreError> {
        let engine = self.engine()?;
        let mut all = Vec::new();
        for entry in engine.health.iter() {
            let (key, bytes) = entry?;
            let Ok(id) = <[u8; 16]>::try_from(key.as_ref()) else {
                continue;
            };
            all.push((Ulid::from_bytes(id), decode(&key, &bytes)?));
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::health::HISTORY;
    use crate::domain::{CreateProvider, NewProvider, Provider, now_ms};
    use crate::secrets::MasterKey;
    use crate::store::ProviderStore;

    fn provider() -> Provider {
        let new = NewProvider::parse(CreateProvider {
            provider_id: Some("watched".into()),
            name: Some("Watched".into()),
            base_url: Some("http://127.0.0.1:11434/v1".into()),
            ..Default::default()
        })
        .unwrap();
        Provider::create(new, &MasterKey::generate().unwrap(), now_ms(), "admin").unwrap()
    }

    fn check(at_ms: u64) -> HealthCheck {
        HealthCheck {
            at_ms,
            ok: at_ms.is_multiple_of(2),
            status_code: Some(200),
            latency_ms: Some(3),
            error: None,
            down: false,
        }
    }

    #[test]
    fn checks_are_kept_bounded_across_a_reopen_and_go_with_their_provider() {
        let dir = tempfile::tempdir().unwrap();
        let p = provider();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        rt.block_on(async {
            let store = SledStore::open(dir.path(), 1 << 20).unwrap();
            // None for a provider that is not there.
            let refused = store.add_health_check(p.id, check(1)).await.unwrap();
            assert!(matches!(refused, Err(Rejection::NotFound)));
            let created = store.create(p.clone()).await.unwrap().unwrap();
            created.wait().await.unwrap();
            for at in 0..(HISTORY as u64 + 5) {
                let added = store.add_health_check(p.id, check(at)).await.unwrap();
                added.unwrap().wait().await.unwrap();
            }
            drop(store);
            let store = SledStore::open(dir.path(), 1 << 20).unwrap();
            let all = store.all_health().unwrap();
            assert_eq!(all.len(), 1);
            let (id, kept) = &all[0];
            assert_eq!(*id, p.id);
            assert_eq!(kept.len(), HISTORY);
            assert_eq!(kept[0], check(HISTORY as u64 + 4), "newest first");
            let deleted = store.delete(p.id, None, None).await.unwrap().unwrap();
            deleted.wait().await.unwrap();
            assert!(store.all_health().unwrap().is_empty());
        });
    }
}
