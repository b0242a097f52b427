//! Stored management API keys: one tree of records by id (`by_id`). Only the token's digest is
//! in a record, so nothing here is secret.

use ulid::Ulid;

use super::codec::get_in;
use super::{SledStore, by_id};
use crate::domain::{ApiKey, Precondition};
use crate::store::{ApiKeyStore, Page, StoreError, UpdateFn, Write};

impl ApiKeyStore for SledStore {
    fn create_api_key(&self, key: ApiKey) -> Write<ApiKey> {
        self.write(move |e| by_id::insert(e, &e.api_keys, key.id, key))
    }

    fn get_api_key(&self, id: Ulid) -> Result<Option<ApiKey>, StoreError> {
        get_in(&self.engine()?.api_keys, id)
    }

    fn list_api_keys(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ApiKey>, StoreError> {
        by_id::page(&self.engine()?.api_keys, before, limit)
    }

    fn all_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        by_id::all(&self.engine()?.api_keys)
    }

    fn update_api_key(&self, id: Ulid, change: UpdateFn<ApiKey>) -> Write<ApiKey> {
        self.write(move |e| e.update_in(&e.api_keys, id, &change))
    }

    fn delete_api_key(&self, id: Ulid, precondition: Option<Precondition>) -> Write<ApiKey> {
        self.write(move |e| by_id::remove(e, &e.api_keys, id, precondition, ApiKey::etag))
    }
}
