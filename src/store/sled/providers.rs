//! Providers: the records tree and the `providerId` index, always changed together; a
//! cascading delete also takes the provider's keys out of every router (`routers::prune`).

use std::collections::HashSet;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use ulid::Ulid;

use super::SledStore;
use super::base_urls;
use super::codec::{count_of, decode, decode_entry, encode, get_in, key_index_entry, page_of};
use super::engine::{Abort, failed, reject};
use super::routers::prune;
use crate::domain::{AccessKeyConfiguration, Precondition, Provider};
use crate::store::{Cascade, Page, ProviderStore, Rejection, StoreError, UpdateFn, Write};

impl ProviderStore for SledStore {
    fn create(&self, provider: Provider) -> Write<Provider> {
        self.write(move |e| {
            let key = provider.id.to_bytes();
            let value = encode(&provider)?;
            let slug = provider.provider_id.as_str();
            let trees = (&e.records, &e.index, &e.base_urls);
            let result = trees.transaction(|(records, index, base_urls)| {
                if index.get(slug.as_bytes())?.is_some() {
                    return reject(Rejection::ProviderIdTaken(slug.to_owned()));
                }
                index.insert(slug.as_bytes(), &key[..])?;
                records.insert(&key[..], value.as_slice())?;
                base_urls::add(base_urls, &provider.base_url)?;
                Ok(((), true))
            });
            Ok(e.settle(result)?.map(|w| w.map(|()| provider)))
        })
    }

    fn get(&self, id: Ulid) -> Result<Option<Provider>, StoreError> {
        get_in(&self.engine()?.records, id)
    }

    fn list(&self, before: Option<Ulid>, limit: usize) -> Result<Page<Provider>, StoreError> {
        let e = self.engine()?;
        let entries = match before {
            Some(before) => e.records.range(..before.to_bytes()),
            None => e.records.iter(),
        };
        page_of(entries.rev(), limit, decode_entry)
    }

    fn update(&self, id: Ulid, change: UpdateFn<Provider>) -> Write<Provider> {
        self.write(move |e| {
            let key = id.to_bytes();
            let result = (&e.records, &e.base_urls).transaction(|(records, base_urls)| {
                let Some(bytes) = records.get(key)? else {
                    return reject(Rejection::NotFound);
                };
                let current: Provider = decode(&key, &bytes).map_err(failed)?;
                match change(&current) {
                    Err(r) => reject(r),
                    Ok(None) => Ok((current, false)),
                    Ok(Some(next)) => {
                        records.insert(&key[..], encode(&next).map_err(failed)?)?;
                        base_urls::moved(base_urls, &current, &next)?;
                        Ok((next, true))
                    }
                }
            });
            e.settle(result)
        })
    }

    fn delete(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: Cascade,
    ) -> Write<(u64, Vec<AccessKeyConfiguration>)> {
        self.write(move |e| {
            let key = id.to_bytes();
            loop {
                let Some(found) = get_in::<Provider>(&e.records, id)? else {
                    return Ok(Err(Rejection::NotFound));
                };
                let slug = found.provider_id.as_str();
                let key_ids = if cascade.is_some() {
                    e.key_ids_of(slug)?
                } else {
                    Vec::new()
                };
                let trees = (
                    &e.records,
                    &e.index,
                    &e.keys,
                    &e.keys_by_provider,
                    &e.key_counts,
                    &e.configurations,
                    &e.key_rules,
                    &e.health,
                    &e.extensions,
                    &e.base_urls,
                    &e.key_routing,
                );
                let result = trees.transaction(
                    |(
                        records,
                        index,
                        keys,
                        keys_by_provider,
                        key_counts,
                        configurations,
                        rules,
                        health,
                        extensions,
                        base_urls,
                        key_routing,
                    )| {
                        let Some(bytes) = records.get(key)? else {
                            return reject(Rejection::NotFound);
                        };
                        let current: Provider = decode(&key, &bytes).map_err(failed)?;
                        if precondition
                            .as_ref()
                            .is_some_and(|p| !p.allows(&current.etag()))
                        {
                            return reject(Rejection::PreconditionFailed);
                        }
                        let count = count_of(key_counts.get(slug.as_bytes())?);
                        if count > 0 && cascade.is_none() {
                            return reject(Rejection::HasKeys(count));
                        }
                        if count != key_ids.len() as u64 {
                            return Err(ConflictableTransactionError::Abort(Abort::Retry));
                        }
                        for key_id in &key_ids {
                            keys.remove(&key_id[..])?;
                            key_routing.remove(&key_id[..])?;
                            keys_by_provider.remove(key_index_entry(slug, key_id))?;
                        }
                        let gone: HashSet<Ulid> =
                            key_ids.iter().map(|k| Ulid::from_bytes(*k)).collect();
                        let by = cascade.as_deref().unwrap_or_default();
                        let changed = prune(configurations, rules, &gone, by)?;
                        key_counts.remove(slug.as_bytes())?;
                        records.remove(&key[..])?;
                        index.remove(slug.as_bytes())?;
                        health.remove(&key[..])?;
                        extensions.remove(&key[..])?;
                        base_urls::remove(base_urls, &current.base_url)?;
                        Ok(((count, changed), true))
                    },
                );
                if matches!(result, Err(TransactionError::Abort(Abort::Retry))) {
                    continue;
                }
                return e.settle(result);
            }
        })
    }
}
