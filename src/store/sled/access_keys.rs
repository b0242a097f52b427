//! Data-plane access keys: one tree of records by id, like the management API keys; only the
//! token's digest is in a record.

use ulid::Ulid;

use super::SledStore;
use super::codec::{decode, decode_entry, encode, get_in, page_of};
use super::engine::{failed, reject};
use crate::domain::{AccessKey, Precondition};
use crate::store::{AccessKeyStore, Page, Rejection, StoreError, UpdateFn, Write};

impl AccessKeyStore for SledStore {
    fn create_access_key(&self, key: AccessKey) -> Write<AccessKey> {
        self.write(move |e| {
            let (id, value) = (key.id.to_bytes(), encode(&key)?);
            let result = e.access_keys.transaction(|keys| {
                keys.insert(&id[..], value.as_slice())?;
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
        let e = self.engine()?;
        let entries = match before {
            Some(before) => e.access_keys.range(..before.to_bytes()),
            None => e.access_keys.iter(),
        };
        page_of(entries.rev(), limit, decode_entry)
    }

    fn all_access_keys(&self) -> Result<Vec<AccessKey>, StoreError> {
        let e = self.engine()?;
        e.access_keys
            .iter()
            .map(|entry| {
                let (id, bytes) = entry?;
                decode(&id, &bytes)
            })
            .collect()
    }

    fn update_access_key(&self, id: Ulid, change: UpdateFn<AccessKey>) -> Write<AccessKey> {
        self.write(move |e| e.update_in(&e.access_keys, id, &change))
    }

    fn delete_access_key(&self, id: Ulid, precondition: Option<Precondition>) -> Write<AccessKey> {
        self.write(move |e| {
            let key = id.to_bytes();
            let result = e.access_keys.transaction(|keys| {
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
                keys.remove(&key[..])?;
                Ok((current, true))
            });
            e.settle(result)
        })
    }
}
