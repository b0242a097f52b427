//! Stored management API keys: one tree of records by id. Only the token's digest is in a
//! record, so nothing here is secret.

use ulid::Ulid;

use super::SledStore;
use super::codec::{decode, decode_entry, encode, get_in, page_of};
use super::engine::{failed, reject};
use crate::domain::{ApiKey, Precondition};
use crate::store::{ApiKeyStore, Page, Rejection, StoreError, UpdateFn, Write};

impl ApiKeyStore for SledStore {
    fn create_api_key(&self, key: ApiKey) -> Write<ApiKey> {
        self.write(move |e| {
            let (id, value) = (key.id.to_bytes(), encode(&key)?);
            let result = e.api_keys.transaction(|keys| {
                keys.insert(&id[..], value.as_slice())?;
                Ok(((), true))
            });
            Ok(e.settle(result)?.map(|w| w.map(|()| key)))
        })
    }

    fn get_api_key(&self, id: Ulid) -> Result<Option<ApiKey>, StoreError> {
        get_in(&self.engine()?.api_keys, id)
    }

    fn list_api_keys(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ApiKey>, StoreError> {
        let e = self.engine()?;
        let entries = match before {
            Some(before) => e.api_keys.range(..before.to_bytes()),
            None => e.api_keys.iter(),
        };
        page_of(entries.rev(), limit, decode_entry)
    }

    fn all_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let e = self.engine()?;
        e.api_keys
            .iter()
            .map(|entry| {
                let (id, bytes) = entry?;
                decode(&id, &bytes)
            })
            .collect()
    }

    fn update_api_key(&self, id: Ulid, change: UpdateFn<ApiKey>) -> Write<ApiKey> {
        self.write(move |e| e.update_in(&e.api_keys, id, &change))
    }

    fn delete_api_key(&self, id: Ulid, precondition: Option<Precondition>) -> Write<ApiKey> {
        self.write(move |e| {
            let key = id.to_bytes();
            let result = e.api_keys.transaction(|keys| {
                let Some(bytes) = keys.get(key)? else {
                    return reject(Rejection::NotFound);
                };
                let current: ApiKey = decode(&key, &bytes).map_err(failed)?;
                if precondition
                    .as_ref()
                    .is_some_and(|p| !p.allows(&current.etag()))
                {
                    return reject(Rejection::PreconditionFailed);
                }
                keys.remove(&key[..])?;
                Ok((current, true))
            });
            e.settle(result)
        })
    }
}
