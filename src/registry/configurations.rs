//! Access key configuration writes: the scope checked against the providers the routing table
//! holds, then stored, then published into the table (where calls read it) before the write is
//! acknowledged, so a re-scope applies from the next call. The provider keys a router creates
//! are sealed here and stored in the configuration's transaction. A cascading delete also takes the
//! deleted access keys out of the live credentials.

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::{
    AccessKeyConfiguration, AccessKeyConfigurationChanges, CreateAccessKeyConfiguration, InlineKey,
    Input, InputError, KnownProviders, NewAccessKeyConfiguration, Precondition, ProviderKey,
    UpdateAccessKeyConfiguration, now_ms, parse_id,
};
use crate::gateway::table::{Change, RoutingTable, Snapshot};

/// The providers a scope may name: those routed now.
struct Routed(std::sync::Arc<Snapshot>);

impl KnownProviders for Routed {
    fn provider(&self, entry: &str) -> bool {
        self.0.route(entry).is_some() || parse_id(entry).is_some_and(|id| self.0.has_provider(id))
    }

    fn provider_id(&self, slug: &str) -> bool {
        self.0.route(slug).is_some()
    }

    fn slug_of(&self, entry: &str) -> Option<String> {
        match parse_id(entry) {
            Some(id) => self.0.slug_of(id).map(str::to_owned),
            None => self.0.route(entry).map(|r| r.slug.clone()),
        }
    }

    fn key_owner(&self, key: Ulid) -> Option<String> {
        self.0.key_owner(key).map(str::to_owned)
    }
}

/// The provider keys a router creates, sealed once, before the transaction.
fn sealed(
    registry: &Registry,
    new_keys: Vec<InlineKey>,
    now_ms: u64,
    by: &str,
) -> Result<Vec<ProviderKey>, WriteError> {
    new_keys
        .into_iter()
        .map(|(id, key)| Ok(key.into_key_as(id, &registry.master_key, now_ms, by)?))
        .collect()
}

/// The keys a router created, then the configuration naming them.
fn published(table: &RoutingTable, keys: &[ProviderKey], c: &AccessKeyConfiguration) {
    for key in keys {
        table.apply(Change::Key(key));
    }
    table.apply(Change::Configuration(c));
}

impl Registry {
    pub async fn create_configuration(
        &self,
        input: Input<CreateAccessKeyConfiguration>,
        by: &str,
    ) -> Result<AccessKeyConfiguration, WriteError> {
        let known = Routed(self.table.snapshot());
        let mut new =
            NewAccessKeyConfiguration::parse(input, &known).map_err(InputError::Invalid)?;
        let now = now_ms();
        let keys = sealed(self, std::mem::take(&mut new.new_keys), now, by)?;
        let configuration = new.into_configuration(now, by);
        self.commit(
            self.store.create_configuration(configuration, keys.clone()),
            move |c, table| published(table, &keys, c),
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
        let mut changes =
            AccessKeyConfigurationChanges::parse(input, &known).map_err(InputError::Invalid)?;
        let keys = sealed(self, std::mem::take(&mut changes.new_keys), now_ms(), by)?;
        let by = by.to_owned();
        let change = Box::new(move |current: &AccessKeyConfiguration| {
            guard(precondition.as_ref(), &current.etag())?;
            Ok(changes.apply(current, now_ms(), &by))
        });
        self.commit(
            self.store.update_configuration(id, change, keys.clone()),
            move |c, table| published(table, &keys, c),
        )
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
