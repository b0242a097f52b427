//! Data-plane access keys: one tree of records by id (`by_id`), like the management API keys;
//! only the token's digest is in a record.

use ulid::Ulid;

use super::codec::get_in;
use super::{SledStore, by_id};
use crate::domain::{AccessKey, Precondition};
use crate::store::{AccessKeyStore, Page, StoreError, UpdateFn, Write};

impl AccessKeyStore for SledStore {
    fn create_access_key(&self, key: AccessKey) -> Write<AccessKey> {
        self.write(move |e| by_id::insert(e, &e.access_keys, key.id, key))
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
        self.write(move |e| e.update_in(&e.access_keys, id, &change))
    }

    fn delete_access_key(&self, id: Ulid, precondition: Option<Precondition>) -> Write<AccessKey> {
        self.write(move |e| by_id::remove(e, &e.access_keys, id, precondition, AccessKey::etag))
    }
}
