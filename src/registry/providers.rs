//! Provider writes.

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::{
    CreateError, CreateProvider, Input, NewProvider, Precondition, Provider, ProviderChanges,
    UpdateProvider, now_ms,
};
use crate::gateway::table::Change;
use crate::store::{Cascade, Rejection};

impl Registry {
    pub async fn create_provider(
        &self,
        input: Input<CreateProvider>,
        by: &str,
    ) -> Result<Provider, WriteError> {
        let new = NewProvider::parse(input)?;
        let provider =
            Provider::create(new, &self.master_key, now_ms(), by).map_err(|e| match e {
                CreateError::Invalid(e) => WriteError::Invalid(e),
                CreateError::Crypto(e) => WriteError::Crypto(e),
            })?;
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
        let mut changes = ProviderChanges::parse(input)?;
        changes.settings.seal(&self.master_key, id)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &Provider| {
            guard(precondition.as_ref(), &current.etag())?;
            changes
                .apply(current, now_ms(), &by)
                .map_err(Rejection::Invalid)
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
        cascade: Cascade,
    ) -> Result<u64, WriteError> {
        self.commit(
            self.store.delete(id, precondition, cascade),
            |(_, changed), table| {
                table.apply(Change::ProviderGone(id));
                for c in changed {
                    table.apply(Change::Configuration(c));
                }
            },
        )
        .await
        .map(|(count, _)| count)
    }
}
