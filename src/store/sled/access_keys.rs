//! Data-plane access keys: one tree of records by id, like the management API keys;
//! only the token's digest is in a record. A key scoped by a configuration is also indexed
//! under it (`keys_by_configuration`, with a count in `configuration_uses`), in the same
//! transaction that writes the key, and only while that configuration exists. A record written
//! before budgets and token limits existed decodes as one without either.

use serde::Deserialize;
use sled::Transactional;
use sled::transaction::{TransactionalTree, UnabortableTransactionError};
use ulid::Ulid;

use super::SledStore;
use super::codec::{count_of, decode, encode, page_of};
use super::engine::{TxResult, failed, reject};
use crate::domain::{AccessKey, Precondition, PreviousToken, unknown_configuration};
use crate::store::{AccessKeyStore, Page, Rejection, StoreError, UpdateFn, Write};

/// An access key as stored before `budget` and `tokens_per_minute`: the same fields, without
/// the last two.
#[derive(Deserialize)]
struct Unlimited {
    id: Ulid,
    name: Option<String>,
    description: Option<String>,
    metadata: Option<String>,
    digest: [u8; 32],
    key_redacted: String,
    expires_at_ms: Option<u64>,
    disabled: Option<bool>,
    requests_per_minute: Option<u32>,
    created_at_ms: u64,
    updated_at_ms: u64,
    created_by: String,
    last_updated_by: String,
    last_used_ms: Option<u64>,
    version: u64,
    previous: Option<PreviousToken>,
    configuration: Option<Ulid>,
}

/// An access key record of either shape. postcard is not self-describing: a record without
/// the trailing limits ends before them, which only the current shape's read notices.
pub(super) fn decode_access_key(key: &[u8], bytes: &[u8]) -> Result<AccessKey, StoreError> {
    decode(key, bytes).or_else(|first| match decode::<Unlimited>(key, bytes) {
        Ok(k) => Ok(AccessKey {
            id: k.id,
            name: k.name,
            description: k.description,
            metadata: k.metadata,
            digest: k.digest,
            key_redacted: k.key_redacted,
            expires_at_ms: k.expires_at_ms,
            disabled: k.disabled,
            requests_per_minute: k.requests_per_minute,
            created_at_ms: k.created_at_ms,
            updated_at_ms: k.updated_at_ms,
            created_by: k.created_by,
            last_updated_by: k.last_updated_by,
            last_used_ms: k.last_used_ms,
            version: k.version,
            previous: k.previous,
            configuration: k.configuration,
            budget: None,
            tokens_per_minute: None,
        }),
        Err(_) => Err(first),
    })
}

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
        let key = id.to_bytes();
        self.engine()?
            .access_keys
            .get(key)?
            .map(|bytes| decode_access_key(&key, &bytes))
            .transpose()
    }

    fn list_access_keys(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<AccessKey>, StoreError> {
        let tree = &self.engine()?.access_keys;
        let entries = match before {
            Some(before) => tree.range(..before.to_bytes()),
            None => tree.iter(),
        };
        page_of(entries.rev(), limit, |(key, bytes)| {
            decode_access_key(&key, &bytes).map(Some)
        })
    }

    fn all_access_keys(&self) -> Result<Vec<AccessKey>, StoreError> {
        self.engine()?
            .access_keys
            .iter()
            .map(|entry| {
                let (key, bytes) = entry?;
                decode_access_key(&key, &bytes)
            })
            .collect()
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
                let current = decode_access_key(&key, &bytes).map_err(failed)?;
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
                let current = decode_access_key(&key, &bytes).map_err(failed)?;
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
