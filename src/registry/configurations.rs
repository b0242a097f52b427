//! Access key configuration writes: the scope checked against the providers the routing table
//! holds, then stored, then published into the table (where calls read it) before the write is
//! acknowledged, so a re-scope applies from the next call. A cascading delete also takes the
//! deleted access keys out of the live credentials.

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::{
    AccessKeyConfiguration, AccessKeyConfigurationChanges, CreateAccessKeyConfiguration, Input,
    InputError, KnownProviders, NewAccessKeyConfiguration, Precondition,
    UpdateAccessKeyConfiguration, now_ms, parse_id,
};
use crate::gateway::table::{Change, Snapshot};

/// The providers a scope may name: those routed now.
struct Routed(std::sync::Arc<Snapshot>);

impl KnownProviders for Routed {
    fn provider(&self, entry: &str) -> bool {
        self.0.route(entry).is_some() || parse_id(entry).is_some_and(|id| self.0.has_provider(id))
    }

    fn provider_id(&self, slug: &str) -> bool {
        self.0.route(slug).is_some()
    }
}

impl Registry {
    pub async fn create_configuration(
        &self,
        input: Input<CreateAccessKeyConfiguration>,
        by: &str,
    ) -> Result<AccessKeyConfiguration, WriteError> {
        let known = Routed(self.table.snapshot());
        let new = NewAccessKeyConfiguration::parse(input, &known).map_err(InputError::Invalid)?;
        let configuration = new.into_configuration(now_ms(), by);
        self.commit(
            self.store.create_configuration(configuration),
            |c, table| table.apply(Change::Configuration(c)),
        )
        .await
    }

    pub async fn update_configuration(
        &self,
        id: Ulid,
        input: Input<UpdateAccessKeyConfiguration>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<AccessKeyConfiguration, WriteError> {
        let known = Routed(self.table.snapshot());
        let changes =
            AccessKeyConfigurationChanges::parse(input, &known).map_err(InputError::Invalid)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &AccessKeyConfiguration| {
            guard(precondition.as_ref(), &current.etag())?;
            Ok(changes.apply(current, now_ms(), &by))
        });
        self.commit(self.store.update_configuration(id, change), |c, table| {
            table.apply(Change::Configuration(c))
        })
        .await
    }

    /// Deletes the configuration; with `cascade`, the access keys it scopes go with it, and
    /// their tokens are refused from the next call on.
    pub async fn delete_configuration(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: bool,
    ) -> Result<(), WriteError> {
        let _turn = self.turn().await;
        let (_, keys) = self
            .commit(
                self.store.delete_configuration(id, precondition, cascade),
                |_, table| table.apply(Change::ConfigurationGone(id)),
            )
            .await?;
        for key in &keys {
            self.unpublish_access_key(key);
        }
        Ok(())
    }
}
