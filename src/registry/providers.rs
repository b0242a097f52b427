//! Provider writes.

use std::collections::BTreeMap;
use std::future::Future;

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
        self.create_provider_checked(input, by, |_| async { Ok(()) })
            .await
    }

    /// [`Registry::create_provider`], with the record `check`ed once parsed and before it is
    /// written (`?validate=true`: the provider probed); a refusal writes nothing.
    pub async fn create_provider_checked<C, F>(
        &self,
        input: Input<CreateProvider>,
        by: &str,
        check: C,
    ) -> Result<Provider, WriteError>
    where
        C: FnOnce(Provider) -> F,
        F: Future<Output = Result<(), BTreeMap<String, String>>>,
    {
        let new = NewProvider::parse(input)?;
        let provider =
            Provider::create(new, &self.master_key, now_ms(), by).map_err(|e| match e {
                CreateError::Invalid(e) => WriteError::Invalid(e),
                CreateError::Crypto(e) => WriteError::Crypto(e),
            })?;
        check(provider.clone()).await.map_err(WriteError::Refused)?;
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
        self.change_provider(id, changes, precondition, by).await
    }

    /// [`Registry::update_provider`], with the record as the change would leave it `check`ed
    /// first (`?validate=true`); a refusal writes nothing. The change is applied again in the
    /// write's transaction, to whatever is current then.
    pub async fn update_provider_checked<C, F>(
        &self,
        id: Ulid,
        input: Input<UpdateProvider>,
        precondition: Option<Precondition>,
        by: &str,
        check: C,
    ) -> Result<Provider, WriteError>
    where
        C: FnOnce(Provider) -> F,
        F: Future<Output = Result<(), BTreeMap<String, String>>>,
    {
        let mut changes = ProviderChanges::parse(input)?;
        changes.settings.seal(&self.master_key, id)?;
        let current = self
            .store
            .get(id)?
            .ok_or(WriteError::Rejected(Rejection::NotFound))?;
        guard(precondition.as_ref(), &current.etag()).map_err(WriteError::Rejected)?;
        let next = changes
            .apply(&current, now_ms(), by)
            .map_err(|v| WriteError::Rejected(Rejection::Invalid(v)))?;
        check(next.unwrap_or(current))
            .await
            .map_err(WriteError::Refused)?;
        self.change_provider(id, changes, precondition, by).await
    }

    async fn change_provider(
        &self,
        id: Ulid,
        changes: ProviderChanges,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<Provider, WriteError> {
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
