//! Provider writes.

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::{
    CreateProvider, Input, NewProvider, Precondition, Provider, ProviderChanges, UpdateProvider,
    now_ms,
};
use crate::gateway::table::Change;

impl Registry {
    pub async fn create_provider(
        &self,
        input: Input<CreateProvider>,
        by: &str,
    ) -> Result<Provider, WriteError> {
        let new = NewProvider::parse(input)?;
        let provider = Provider::create(new, now_ms(), by);
        self.commit(self.store.create(provider), |p, table| {
            table.apply(Change::Provider(p))
        })
        .await
    }

    /// Applies the fields `input` sends, if `precondition` allows.
    pub async fn update_provider(
        &self,
        id: Ulid,
        input: Input<UpdateProvider>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<Provider, WriteError> {
        let changes = ProviderChanges::parse(input)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &Provider| {
            guard(precondition.as_ref(), &current.etag())?;
            Ok(changes.apply(current, now_ms(), &by))
        });
        self.commit(self.store.update(id, change), |p, table| {
            table.apply(Change::Provider(p))
        })
        .await
    }

    /// Answers how many keys went with the provider (only with `cascade`).
    pub async fn delete_provider(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: bool,
    ) -> Result<u64, WriteError> {
        self.commit(self.store.delete(id, precondition, cascade), |_, table| {
            table.apply(Change::ProviderGone(id))
        })
        .await
    }
}
