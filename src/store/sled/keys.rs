//! Provider keys: the keys tree, the per-provider index and the per-provider counter, always
//! changed together; and the master-key check value beside them.

use std::collections::HashSet;

use sled::Transactional;
use ulid::Ulid;

use super::SledStore;
use super::codec::{
    count_of, decode, decode_entry, encode, get_in, key_id_from_index, key_index_entry, page_of,
    provider_prefix,
};
use super::engine::{failed, insert_key, reject};
use super::key_routing;
use super::routers::{naming, prune};
use crate::domain::{AccessKeyConfiguration, Precondition, Provider, ProviderKey};
use crate::secrets::{CryptoError, Sealed};
use crate::store::{
    Cascade, KeyStore, Page, Rejection, Rewrap, SecretsStore, StoreError, UpdateFn, Write,
};

const MASTER_KEY_CHECK: &[u8] = b"master_key_check";

impl KeyStore for SledStore {
    fn create_key(&self, key: ProviderKey, needs_provider: bool) -> Write<ProviderKey> {
        self.write(move |e| {
            let slug = key.provider_id.as_str();
            let trees = (
                &e.keys,
                &e.keys_by_provider,
                &e.key_counts,
                &e.index,
                &e.key_routing,
            );
            let result =
                trees.transaction(|(keys, keys_by_provider, key_counts, providers, routing)| {
                    if needs_provider && providers.get(slug.as_bytes())?.is_none() {
                        return reject(Rejection::UnknownProvider(slug.to_owned()));
                    }
                    insert_key(keys, keys_by_provider, key_counts, &key)?;
                    key_routing::write_in(routing, &key)?;
                    Ok(((), true))
                });
            Ok(e.settle(result)?.map(|w| w.map(|()| key)))
        })
    }

    fn get_key(&self, id: Ulid) -> Result<Option<ProviderKey>, StoreError> {
        let e = self.engine()?;
        get_in(&e.keys, id)?
            .map(|key| key_routing::filled(&e, key))
            .transpose()
    }

    fn list_keys(
        &self,
        provider: Option<&str>,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ProviderKey>, StoreError> {
        let e = self.engine()?;
        match provider {
            None => {
                let entries = match before {
                    Some(before) => e.keys.range(..before.to_bytes()),
                    None => e.keys.iter(),
                };
                page_of(entries.rev(), limit, |entry| {
                    decode_entry(entry)?
                        .map(|key| key_routing::filled(&e, key))
                        .transpose()
                })
            }
            Some(slug) => {
                let start = provider_prefix(slug);
                let end = match before {
                    Some(before) => key_index_entry(slug, &before.to_bytes()),
                    // Just past every `slug\0…` entry.
                    None => [slug.as_bytes(), &[1]].concat(),
                };
                let ids = e.keys_by_provider.range(start..end).keys().rev();
                page_of(ids, limit, |entry| {
                    let id = key_id_from_index(&entry);
                    e.keys
                        .get(id)?
                        .map(|bytes| key_routing::filled(&e, decode(&id, &bytes)?))
                        .transpose()
                })
            }
        }
    }

    fn update_key(&self, id: Ulid, change: UpdateFn<ProviderKey>) -> Write<ProviderKey> {
        self.write(move |e| {
            let key = id.to_bytes();
            let result = (&e.keys, &e.key_routing).transaction(|(keys, routing)| {
                let Some(bytes) = keys.get(key)? else {
                    return reject(Rejection::NotFound);
                };
                let current: ProviderKey = decode(&key, &bytes).map_err(failed)?;
                let current = key_routing::filled_in(routing, current)?;
                match change(&current) {
                    Err(r) => reject(r),
                    Ok(None) => Ok((current, false)),
                    Ok(Some(next)) => {
                        keys.insert(&key[..], encode(&next).map_err(failed)?)?;
                        key_routing::write_in(routing, &next)?;
                        Ok((next, true))
                    }
                }
            });
            e.settle(result)
        })
    }

    fn delete_key(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: Cascade,
    ) -> Write<Vec<AccessKeyConfiguration>> {
        self.write(move |e| {
            let key = id.to_bytes();
            let trees = (
                &e.keys,
                &e.keys_by_provider,
                &e.key_counts,
                &e.configurations,
                &e.key_rules,
                &e.key_routing,
            );
            let result = trees.transaction(
                |(keys, keys_by_provider, key_counts, configurations, key_rules, routing)| {
                    let Some(bytes) = keys.get(key)? else {
                        return reject(Rejection::NotFound);
                    };
                    let current: ProviderKey = decode(&key, &bytes).map_err(failed)?;
                    if precondition
                        .as_ref()
                        .is_some_and(|p| !p.allows(&current.etag()))
                    {
                        return reject(Rejection::PreconditionFailed);
                    }
                    let named = naming(key_rules, id)?;
                    if !named.is_empty() && cascade.is_none() {
                        return reject(Rejection::KeyInUse(named));
                    }
                    // Without cascade no router names the key: nothing is changed on anyone's behalf.
                    let by = cascade.as_deref().unwrap_or_default();
                    let gone = HashSet::from([id]);
                    let changed = prune(configurations, key_rules, &gone, by)?;
                    let slug = current.provider_id.as_str();
                    keys.remove(&key[..])?;
                    routing.remove(&key[..])?;
                    keys_by_provider.remove(key_index_entry(slug, &key))?;
                    match count_of(key_counts.get(slug.as_bytes())?) {
                        0 | 1 => key_counts.remove(slug.as_bytes())?,
                        n => key_counts.insert(slug.as_bytes(), &(n - 1).to_be_bytes()[..])?,
                    };
                    Ok((changed, true))
                },
            );
            e.settle(result)
        })
    }
}

impl SecretsStore for SledStore {
    fn master_key_check(&self) -> Result<Option<Sealed>, StoreError> {
        self.engine()?
            .meta
            .get(MASTER_KEY_CHECK)?
            .map(|bytes| decode(MASTER_KEY_CHECK, &bytes))
            .transpose()
    }

    fn set_master_key_check(&self, check: &Sealed) -> Result<(), StoreError> {
        let e = self.0.writer()?;
        e.meta.insert(MASTER_KEY_CHECK, encode(check)?)?;
        e.commits.sync()
    }

    fn seal_plaintext(
        &self,
        seal: &dyn Fn(&Provider) -> Result<Option<Provider>, CryptoError>,
    ) -> Result<Option<usize>, StoreError> {
        self.seal_and_rewrite(seal)
    }

    fn rewrap_secrets(&self, rewrap: &Rewrap<'_>, check: &Sealed) -> Result<usize, StoreError> {
        // Re-wrapping runs with the data dir locked and no server: nothing writes meanwhile.
        let e = self.0.writer()?;
        let mut keys = Vec::new();
        for entry in e.keys.iter() {
            let (id, bytes) = entry?;
            let key: ProviderKey = decode(&id, &bytes)?;
            if let Some(new) =
                (rewrap.key)(&key).map_err(|source| StoreError::Rewrap { id: key.id, source })?
            {
                keys.push((id, encode(&new)?));
            }
        }
        let mut providers = Vec::new();
        for entry in e.records.iter() {
            let (id, bytes) = entry?;
            let provider: Provider = decode(&id, &bytes)?;
            if let Some(new) =
                (rewrap.provider)(&provider).map_err(|source| StoreError::Rewrap {
                    id: provider.id,
                    source,
                })?
            {
                providers.push((id, encode(&new)?));
            }
        }
        let check = encode(check)?;
        let result = (&e.keys, &e.records, &e.meta).transaction(|(key_tree, records, meta)| {
            for (id, value) in &keys {
                key_tree.insert(id, value.as_slice())?;
            }
            for (id, value) in &providers {
                records.insert(id, value.as_slice())?;
            }
            meta.insert(MASTER_KEY_CHECK, check.as_slice())?;
            Ok((keys.len() + providers.len(), true))
        });
        match e.settle(result)? {
            Ok(durable) => durable.wait_blocking(),
            Err(r) => Err(StoreError::Engine(
                format!("the re-wrap transaction was refused: {r:?}").into(),
            )),
        }
    }
}
