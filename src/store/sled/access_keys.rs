//! Data-plane access keys: one tree of records by id (`by_id`), like the management API keys;
//! only the token's digest is in a record. A key scoped by a configuration is also indexed
//! under it (`keys_by_configuration`, with a count in `configuration_uses`), in the same
//! transaction that writes the key, and only while that configuration exists.

use sled::Transactional;
use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use ulid::Ulid;

use super::codec::{count_of, decode, encode, get_in};
use super::engine::{TxResult, failed, reject};
use super::{SledStore, by_id};
use crate::domain::{AccessKey, Precondition, unknown_configuration};
use crate::store::{AccessKeyStore, Page, Rejection, StoreError, UpdateFn, Write};

/// The index entry of `key` under `configuration`.
pub(super) fn use_entry(configuration: Ulid, key: Ulid) -> [u8; 32] {
    let mut entry = [0u8; 32];
    entry[..16].copy_from_slice(&configuration.to_bytes());
    entry[16..].copy_from_slice(&key.to_bytes());
    entry
}

/// The trees a scoped key's write touches, inside one transaction.
pub(super) struct Uses<'t> {
    pub(super) configurations: &'t TransactionalTree,
    pub(super) by_configuration: &'t TransactionalTree,
    pub(super) counts: &'t TransactionalTree,
}

impl Uses<'_> {
    /// Moves `key` from the configuration `from` to `to`; refuses a `to` that does not exist.
    pub(super) fn moved(&self, key: Ulid, from: Option<Ulid>, to: Option<Ulid>) -> TxResult<()> {
        if from == to {
            return Ok(());
        }
        if let Some(to) = to {
            if self.configurations.get(to.to_bytes())?.is_none() {
                return reject(Rejection::Invalid(unknown_configuration(&to.to_string())));
            }
            self.by_configuration
                .insert(&use_entry(to, key)[..], &[][..])?;
            self.add(to, 1)?;
        }
        if let Some(from) = from {
            self.by_configuration.remove(&use_entry(from, key)[..])?;
            self.add(from, -1)?;
        }
        Ok(())
    }

    fn add(&self, configuration: Ulid, by: i64) -> Result<(), UnabortableTransactionError> {
        let key = configuration.to_bytes();
        let count = count_of(self.counts.get(key)?).saturating_add_signed(by);
        match count {
            0 => self.counts.remove(&key[..])?,
            n => self.counts.insert(&key[..], &n.to_be_bytes()[..])?,
        };
        Ok(())
    }
}

impl AccessKeyStore for SledStore {
    fn create_access_key(&self, key: AccessKey) -> Write<AccessKey> {
        self.write(move |e| {
            let value = encode(&key)?;
            let trees = (
                &e.access_keys,
                &e.configurations,
                &e.keys_by_configuration,
                &e.configuration_uses,
            );
            let result = trees.transaction(|(keys, configurations, by_configuration, counts)| {
                let uses = Uses {
                    configurations,
                    by_configuration,
                    counts,
                };
                uses.moved(key.id, None, key.configuration)?;
                keys.insert(&key.id.to_bytes()[..], value.as_slice())?;
                Ok(((), true))
            });
            Ok(e.settle(result)?.map(|w| w.map(|()| key)))
        })
    }

    fn get_access_key(&self, id: Ulid) -> Result<Option<AccessKey>, StoreError> {
        get_in(&self.engine()?.access_keys, id)
    }

    fn list_access_keys(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<AccessKey>, StoreError> {
        by_id::page(&self.engine()?.access_keys, before, limit)
    }

    fn all_access_keys(&self) -> Result<Vec<AccessKey>, StoreError> {
        by_id::all(&self.engine()?.access_keys)
    }

    fn update_access_key(&self, id: Ulid, change: UpdateFn<AccessKey>) -> Write<AccessKey> {
        self.write(move |e| {
            let key = id.to_bytes();
            let trees = (
                &e.access_keys,
                &e.configurations,
                &e.keys_by_configuration,
                &e.configuration_uses,
            );
            let result = trees.transaction(|(keys, configurations, by_configuration, counts)| {
                let Some(bytes) = keys.get(key)? else {
                    return reject(Rejection::NotFound);
                };
                let current: AccessKey = decode(&key, &bytes).map_err(failed)?;
                match change(&current) {
                    Err(r) => reject(r),
                    Ok(None) => Ok((current, false)),
                    Ok(Some(next)) => {
                        let uses = Uses {
                            configurations,
                            by_configuration,
                            counts,
                        };
                        uses.moved(id, current.configuration, next.configuration)?;
                        keys.insert(&key[..], encode(&next).map_err(failed)?)?;
                        Ok((next, true))
                    }
                }
            });
            e.settle(result)
        })
    }

    fn delete_access_key(&self, id: Ulid, precondition: Option<Precondition>) -> Write<AccessKey> {
        self.write(move |e| {
            let key = id.to_bytes();
            let trees = (
                &e.access_keys,
                &e.configurations,
                &e.keys_by_configuration,
                &e.configuration_uses,
            );
            let result = trees.transaction(|(keys, configurations, by_configuration, counts)| {
                let Some(bytes) = keys.get(key)? else {
                    return reject(Rejection::NotFound);
                };
                let current: AccessKey = decode(&key, &bytes).map_err(failed)?;
                if precondition
                    .as_ref()
                    .is_some_and(|p| !p.allows(&current.etag()))
                {
                    return reject(Rejection::PreconditionFailed);
                }
                let uses = Uses {
                    configurations,
                    by_configuration,
                    counts,
                };
                uses.moved(id, current.configuration, None)?;
                keys.remove(&key[..])?;
                Ok((current, true))
            });
            e.settle(result)
        })
    }
}
