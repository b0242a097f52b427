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
