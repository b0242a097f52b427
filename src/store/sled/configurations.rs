//! Access key configurations: a tree of records by id (`by_id`). A delete learns how many
//! access keys a configuration scopes from `configuration_uses` inside its transaction, and
//! which they are from `keys_by_configuration`, scanned before it (a transaction cannot scan):
//! when the two disagree a key was scoped or unscoped in between, and the delete reads again.
//! A router's keys are kept in step by `routers`, in the transaction that writes it.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use ulid::Ulid;

use super::SledStore;
use super::access_keys::{decode_access_key, use_entry};
use super::codec::{count_of, encode, page_of};
use super::engine::{Abort, Engine, failed, reject};
use super::routers::{RouterTrees, decode_configuration, naming, set_ids};
use crate::domain::{AccessKey, AccessKeyConfiguration, Precondition, ProviderKey};
use crate::store::{
    AccessKeyConfigurationStore, Deleted, Page, Rejection, StoreError, UpdateFn, Write,
};

impl AccessKeyConfigurationStore for SledStore {
    fn create_configuration(
        &self,
        c: AccessKeyConfiguration,
        new_keys: Vec<ProviderKey>,
    ) -> Write<AccessKeyConfiguration> {
        self.write(move |e| {
            let (key, value) = (c.id.to_bytes(), encode(&c)?);
            let result = router_trees(e).transaction(
                |(records, keys, keys_by_provider, key_counts, providers, key_rules)| {
                    let trees = RouterTrees {
                        keys,
                        keys_by_provider,
                        key_counts,
                        providers,
                        key_rules,
                    };
                    trees.write(c.id, None, c.router.as_ref(), &new_keys)?;
                    records.insert(&key[..], value.as_slice())?;
                    Ok(((), true))
                },
            );
            Ok(e.settle(result)?.map(|w| w.map(|()| c)))
        })
    }

    fn get_configuration(&self, id: Ulid) -> Result<Option<AccessKeyConfiguration>, StoreError> {
        let key = id.to_bytes();
        self.engine()?
            .configurations
            .get(key)?
            .map(|bytes| decode_configuration(&key, &bytes))
            .transpose()
    }

    fn list_configurations(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<AccessKeyConfiguration>, StoreError> {
        let e = self.engine()?;
        let entries = match before {
            Some(before) => e.configurations.range(..before.to_bytes()),
            None => e.configurations.iter(),
        };
        page_of(entries.rev(), limit, |(key, bytes)| {
            decode_configuration(&key, &bytes).map(Some)
        })
    }

    fn all_configurations(&self) -> Result<Vec<AccessKeyConfiguration>, StoreError> {
        self.engine()?
            .configurations
            .iter()
            .map(|entry| {
                let (key, bytes) = entry?;
                decode_configuration(&key, &bytes)
            })
            .collect()
    }

    fn update_configuration(
        &self,
        id: Ulid,
        change: UpdateFn<AccessKeyConfiguration>,
        new_keys: Vec<ProviderKey>,
    ) -> Write<AccessKeyConfiguration> {
        self.write(move |e| {
            let key = id.to_bytes();
            let result = router_trees(e).transaction(
                |(records, keys, keys_by_provider, key_counts, providers, key_rules)| {
                    let Some(bytes) = records.get(key)? else {
                        return reject(Rejection::NotFound);
                    };
                    let current = decode_configuration(&key, &bytes).map_err(failed)?;
                    let next = match change(&current) {
                        Err(r) => return reject(r),
                        Ok(None) => return Ok((current, false)),
                        Ok(Some(next)) => next,
                    };
                    let trees = RouterTrees {
                        keys,
                        keys_by_provider,
                        key_counts,
                        providers,
                        key_rules,
                    };
                    trees.write(id, current.router.as_ref(), next.router.as_ref(), &new_keys)?;
                    records.insert(&key[..], encode(&next).map_err(failed)?.as_slice())?;
                    Ok((next, true))
                },
            );
            e.settle(result)
        })
    }

    fn delete_configuration(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: bool,
    ) -> Write<Deleted> {
        self.write(move |e| {
            let key = id.to_bytes();
            loop {
                let users: Vec<Ulid> = match cascade {
                    true => e
                        .keys_by_configuration
                        .scan_prefix(key)
                        .keys()
                        .map(|entry| {
                            let entry = entry?;
                            let mut user = [0u8; 16];
                            user.copy_from_slice(&entry[16..]);
                            Ok(Ulid::from_bytes(user))
                        })
                        .collect::<Result<_, StoreError>>()?,
                    false => Vec::new(),
                };
                let trees = (
                    &e.configurations,
                    &e.access_keys,
                    &e.keys_by_configuration,
                    &e.configuration_uses,
                    &e.key_rules,
                );
                let result =
                    trees.transaction(|(records, keys, by_configuration, counts, rules)| {
                        let Some(bytes) = records.get(key)? else {
                            return reject(Rejection::NotFound);
                        };
                        let current = decode_configuration(&key, &bytes).map_err(failed)?;
                        if precondition
                            .as_ref()
                            .is_some_and(|p| !p.allows(&current.etag()))
                        {
                            return reject(Rejection::PreconditionFailed);
                        }
                        let count = count_of(counts.get(key)?);
                        if count > 0 && !cascade {
                            return reject(Rejection::InUse(count));
                        }
                        if count != users.len() as u64 {
                            return Err(ConflictableTransactionError::Abort(Abort::Retry));
                        }
                        let mut gone: Vec<AccessKey> = Vec::with_capacity(users.len());
                        for user in &users {
                            // Counted and each still indexed: exactly the keys it scopes now.
                            let entry = use_entry(id, *user);
                            let (Some(_), Some(bytes)) =
                                (by_configuration.get(entry)?, keys.get(user.to_bytes())?)
                            else {
                                return Err(ConflictableTransactionError::Abort(Abort::Retry));
                            };
                            gone.push(decode_access_key(&user.to_bytes(), &bytes).map_err(failed)?);
                            by_configuration.remove(&entry[..])?;
                            keys.remove(&user.to_bytes()[..])?;
                        }
                        for named in current.router.iter().flat_map(|r| r.key_ids()) {
                            let mut ids = naming(rules, named)?;
                            ids.retain(|c| *c != id);
                            set_ids(rules, named, &ids)?;
                        }
                        counts.remove(&key[..])?;
                        records.remove(&key[..])?;
                        Ok(((current, gone), true))
                    });
                if matches!(result, Err(TransactionError::Abort(Abort::Retry))) {
                    continue;
                }
                return e.settle(result);
            }
        })
    }
}

/// The configurations and what their routers keep in step.
fn router_trees(
    e: &Engine,
) -> (
    &sled::Tree,
    &sled::Tree,
    &sled::Tree,
    &sled::Tree,
    &sled::Tree,
    &sled::Tree,
) {
    (
        &e.configurations,
        &e.keys,
        &e.keys_by_provider,
        &e.key_counts,
        &e.index,
        &e.key_rules,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewAccessKey, NewAccessKeyConfiguration, now_ms};
    use crate::store::AccessKeyStore;

    fn configuration() -> AccessKeyConfiguration {
        NewAccessKeyConfiguration {
            name: "c".into(),
            description: None,
            metadata: None,
            access: None,
            router: None,
            new_keys: Vec::new(),
        }
        .into_configuration(now_ms(), "admin")
    }

    fn key(n: u8, configuration: Option<Ulid>) -> AccessKey {
        NewAccessKey {
            name: None,
            description: None,
            metadata: None,
            expires_at_ms: None,
            disabled: None,
            requests_per_minute: None,
            tokens_per_minute: None,
            budget: None,
            configuration,
        }
        .into_key([n; 32], "mga_…abcd".into(), now_ms(), "admin")
    }

    /// Keys scoped while a cascading delete runs: each one is either refused (its
    /// configuration gone) or deleted with it; none is left naming a configuration that is
    /// not there, and none the configuration did not scope is touched.
    #[actix_web::test]
    async fn a_cascade_racing_new_scoped_keys_leaves_none_unscoped() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SledStore::open(dir.path(), 1 << 20).unwrap());
        let c = configuration();
        let id = c.id;
        let made = store
            .create_configuration(c, Vec::new())
            .await
            .unwrap()
            .unwrap();
        made.wait().await.unwrap();
        let other = store
            .create_access_key(key(0, None))
            .await
            .unwrap()
            .unwrap();
        let other = other.wait().await.unwrap();
        let writers: Vec<_> = (1..=40u8)
            .map(|n| {
                let store = std::sync::Arc::clone(&store);
                tokio::spawn(async move { store.create_access_key(key(n, Some(id))).await })
            })
            .collect();
        let refused = store.delete_configuration(id, None, false).await.unwrap();
        assert!(matches!(refused, Err(Rejection::InUse(_)) | Ok(_)));
        let deleted = store.delete_configuration(id, None, true).await.unwrap();
        let (_, with_it) = match deleted {
            Ok(d) => d.wait().await.unwrap(),
            // The first delete won: nothing was scoped yet.
            Err(Rejection::NotFound) => (configuration(), Vec::new()),
            Err(other) => panic!("{other:?}"),
        };
        for writer in writers {
            match writer.await.unwrap().unwrap() {
                Ok(done) => {
                    done.wait().await.unwrap();
                }
                Err(Rejection::Invalid(v)) => {
                    assert!(v.to_map().contains_key("accessKeyConfigurationId"));
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        let left = store.all_access_keys().unwrap();
        assert_eq!(left, [other], "deleted with it: {}", with_it.len());
        assert!(store.get_configuration(id).unwrap().is_none());
        let e = store.engine().unwrap();
        assert!(e.keys_by_configuration.is_empty() && e.configuration_uses.is_empty());
    }
}
