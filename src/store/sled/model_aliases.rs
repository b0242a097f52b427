//! Model aliases: one tree of records by id (`by_id`). The rules between aliases (a unique
//! name, none pointing at another) are checked by the registry, whose alias writes take turns.

use ulid::Ulid;

use super::codec::get_in;
use super::{SledStore, by_id};
use crate::domain::{ModelAlias, Precondition};
use crate::store::{ModelAliasStore, Page, StoreError, UpdateFn, Write};

impl ModelAliasStore for SledStore {
    fn create_model_alias(&self, alias: ModelAlias) -> Write<ModelAlias> {
        self.write(move |e| by_id::insert(e, &e.model_aliases, alias.id, alias))
    }

    fn get_model_alias(&self, id: Ulid) -> Result<Option<ModelAlias>, StoreError> {
        get_in(&self.engine()?.model_aliases, id)
    }

    fn list_model_aliases(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ModelAlias>, StoreError> {
        by_id::page(&self.engine()?.model_aliases, before, limit)
    }

    fn all_model_aliases(&self) -> Result<Vec<ModelAlias>, StoreError> {
        by_id::all(&self.engine()?.model_aliases)
    }

    fn update_model_alias(&self, id: Ulid, change: UpdateFn<ModelAlias>) -> Write<ModelAlias> {
        self.write(move |e| e.update_in(&e.model_aliases, id, &change))
    }

    fn delete_model_alias(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
    ) -> Write<ModelAlias> {
        self.write(move |e| by_id::remove(e, &e.model_aliases, id, precondition, ModelAlias::etag))
    }
}
