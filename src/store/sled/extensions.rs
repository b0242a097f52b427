//! Providers' dialect extensions: one JSON value per provider id in the `provider_extensions`
//! tree, written in the transactions that write the provider. JSON rather than postcard, as
//! everywhere else: its fields are many, optional and still growing, and a self-describing
//! encoding lets a field be added without a new store format. A store without the tree (every
//! store before the dialects) reads as no extension anywhere.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use ulid::Ulid;

use super::SledStore;
use super::base_urls;
use super::codec::{decode, encode};
use super::engine::{Abort, failed, insert_key, reject};
use crate::domain::extension::Extension;
use crate::domain::{Provider, ProviderKey};
use crate::store::{ExtendedUpdateFn, ExtensionStore, Rejection, StoreError, Write};

fn read(key: &[u8], bytes: Option<&[u8]>) -> Result<Extension, StoreError> {
    match bytes {
        None => Ok(Extension::default()),
        Some(bytes) => serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            key: Ulid::from_bytes(key.try_into().unwrap_or_default()).to_string(),
            source: Box::new(e),
        }),
    }
}

fn write_in(
    tree: &TransactionalTree,
    key: &[u8],
    extension: &Extension,
) -> Result<(), ConflictableTransactionError<Abort>> {
    if extension.is_empty() {
        tree.remove(key)?;
    } else {
        let bytes = serde_json::to_vec(extension)
            .map_err(|e| StoreError::Encode(Box::new(e)))
            .map_err(failed)?;
        tree.insert(key, bytes)?;
    }
    Ok(())
}

impl ExtensionStore for SledStore {
    fn extension(&self, id: Ulid) -> Result<Extension, StoreError> {
        let key = id.to_bytes();
        let bytes = self.engine()?.extensions.get(key)?;
        read(&key, bytes.as_deref())
    }

    fn all_extensions(&self) -> Result<Vec<(Ulid, Extension)>, StoreError> {
        let mut all = Vec::new();
        for entry in self.engine()?.extensions.iter() {
            let (key, bytes) = entry?;
            let id = Ulid::from_bytes(key.as_ref().try_into().unwrap_or_default());
            all.push((id, read(&key, Some(&bytes))?));
        }
        Ok(all)
    }

    fn create_extended(
        &self,
        provider: Provider,
        extension: Extension,
        key: Option<ProviderKey>,
        unique_base_url: bool,
    ) -> Write<(Provider, Extension)> {
        let provider_key = key;
        self.write(move |e| {
            let key = provider.id.to_bytes();
            let value = encode(&provider)?;
            let slug = provider.provider_id.as_str();
            let trees = (
                &e.records,
                &e.index,
                &e.extensions,
                &e.keys,
                &e.keys_by_provider,
                &e.key_counts,
                &e.base_urls,
            );
            let result = trees.transaction(
                |(records, index, extensions, keys, by_provider, counts, base_urls)| {
                    if index.get(slug.as_bytes())?.is_some() {
                        return reject(Rejection::ProviderIdTaken(slug.to_owned()));
                    }
                    if unique_base_url && base_urls::taken(base_urls, &provider.base_url)? {
                        return reject(Rejection::BaseUrlTaken(provider.base_url.clone()));
                    }
                    base_urls::add(base_urls, &provider.base_url)?;
                    index.insert(slug.as_bytes(), &key[..])?;
                    records.insert(&key[..], value.as_slice())?;
                    write_in(extensions, &key, &extension)?;
                    if let Some(k) = &provider_key {
                        insert_key(keys, by_provider, counts, k)?;
                    }
                    Ok(((), true))
                },
            );
            Ok(e.settle(result)?.map(|w| w.map(|()| (provider, extension))))
        })
    }

    fn update_extended(&self, id: Ulid, change: ExtendedUpdateFn) -> Write<(Provider, Extension)> {
        self.write(move |e| {
            let key = id.to_bytes();
            let trees = (&e.records, &e.extensions, &e.base_urls);
            let result = trees.transaction(|(records, extensions, base_urls)| {
                let Some(bytes) = records.get(key)? else {
                    return reject(Rejection::NotFound);
                };
                let current: Provider = decode(&key, &bytes).map_err(failed)?;
                let ext = read(&key, extensions.get(key)?.as_deref()).map_err(failed)?;
                match change(&current, &ext) {
                    Err(r) => reject(r),
                    Ok(None) => Ok(((current, ext), false)),
                    Ok(Some((next, next_ext))) => {
                        records.insert(&key[..], encode(&next).map_err(failed)?)?;
                        write_in(extensions, &key, &next_ext)?;
                        base_urls::moved(base_urls, &current, &next)?;
                        Ok(((next, next_ext), true))
                    }
                }
            });
            e.settle(result)
        })
    }
}
