//! Where providers, their keys, the management API keys, the access keys, the model aliases and the gateway's own settings are kept: per-resource traits under one [`Store`]
//! supertrait, so a networked backend is one more implementation beside [`sled::SledStore`].
//! Nothing here names an engine: [`StoreError`] says what went wrong in the store's own words.
//!
//! Reads are plain calls: an embedded store answers them from its cache in microseconds. Writes
//! and health checks return a future; an engine that blocks runs them on the blocking pool
//! itself, so callers never juggle threads. A write resolves once applied, with a [`Durable`]
//! to await before anyone may hear of it.

mod durable;
mod observe;
pub mod sled;
pub mod usage;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ulid::Ulid;

pub use durable::{Durable, FlushResult};
pub use observe::WriteObserver;

use crate::domain::discovery::CatalogModels;
use crate::domain::extension::Extension;
use crate::domain::gateway_config::GatewayConfig;
use crate::domain::health::HealthCheck;
use crate::domain::{
    AccessKey, AccessKeyConfiguration, ApiKey, ModelAlias, ModelPrice, Precondition, Provider,
    ProviderKey,
};
use crate::secrets::{CryptoError, Sealed};

/// A request the store refused because of what it holds, as opposed to a [`StoreError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NotFound,
    /// Another provider has this `providerId`.
    ProviderIdTaken(String),
    PreconditionFailed,
    /// A key names this `providerId`, which is neither registered nor a catalog id.
    UnknownProvider(String),
    /// The provider still has this many keys.
    HasKeys(u64),
    /// The access key configuration scopes this many access keys.
    InUse(u64),
    /// The provider key is named by the routers of these access key configurations.
    KeyInUse(Vec<Ulid>),
    /// The change, applied to the record as stored, breaks a rule that spans fields.
    Invalid(crate::domain::Violations),
    /// Another model alias has this name (in any case).
    AliasTaken(String),
    /// Another price is for this model (in any case).
    PriceTaken(String),
    /// Another provider has this base URL, and the write wants it unique (AgentStack's).
    BaseUrlTaken(String),
    /// Discovered models cannot be added to the record as stored.
    Discovery(crate::domain::discovery::DiscoveryRefusal),
}

/// The error an engine or the system gave, kept as the cause of a [`StoreError`] so that logs
/// and callers can walk the chain down to it.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A cause handed to every writer of one group commit.
pub type SharedCause = Arc<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error reached the engine: the disk, not the data.
    #[error("storage I/O: {0}")]
    Io(#[source] std::io::Error),
    /// The engine failed for a reason other than I/O.
    #[error("storage engine: {0}")]
    Engine(#[source] Cause),
    #[error("flushing to disk: {0}")]
    Flush(#[source] SharedCause),
    #[error("the flusher stopped before this write was flushed")]
    FlusherStopped,
    #[error("cannot stat the data dir: {0}")]
    Stat(#[source] std::io::Error),
    #[error("the blocking pool did not run a store call: {0}")]
    Blocking(#[source] Cause),
    #[error("corrupt record {key}: {source}")]
    Corrupt {
        key: String,
        #[source]
        source: Cause,
    },
    #[error("encoding record: {0}")]
    Encode(#[source] Cause),
    #[error("re-wrapping the secret of record {id}: {source}")]
    Rewrap { id: Ulid, source: CryptoError },
    #[error("sealing a secret record {id} holds in the clear: {source}")]
    Seal { id: Ulid, source: CryptoError },
    #[error("the data dir has {free} bytes free, below the {reserve}-byte reserve")]
    Full { free: u64, reserve: u64 },
    #[error("the data dir is on a read-only file system")]
    ReadOnly,
    #[error("a write met an I/O error; the store takes no writes until it can be reopened")]
    Failed,
}

/// One page of records, newest first.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

/// Work the store does off the caller's thread.
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// A write: the store failing (`Err`), or the request refused (`Ok(Err)`), or applied and
/// durable once the [`Durable`] resolves.
pub type Write<T> = Pending<Result<Durable<T>, Rejection>>;

/// The change an update makes, decided against the record as it is inside the transaction:
/// `Ok(None)` leaves the record as it is.
pub type UpdateFn<T> = Box<dyn Fn(&T) -> Result<Option<T>, Rejection> + Send + Sync>;

pub trait ProviderStore: Send + Sync {
    /// Inserts the provider unless its `providerId` is taken; answers it back.
    fn create(&self, provider: Provider) -> Write<Provider>;
    fn get(&self, id: Ulid) -> Result<Option<Provider>, StoreError>;
    /// Up to `limit` providers with ids below `before` (all when `None`), newest first.
    fn list(&self, before: Option<Ulid>, limit: usize) -> Result<Page<Provider>, StoreError>;
    /// Applies `change` atomically: no concurrent write is lost, however many race.
    fn update(&self, id: Ulid, change: UpdateFn<Provider>) -> Write<Provider>;
    /// Removes the provider (and frees its `providerId`) if `precondition` allows. A provider
    /// with keys is refused with [`Rejection::HasKeys`] unless `cascade`, which removes its
    /// keys in the same transaction, and takes them out of every router naming them; answers
    /// how many keys went with it, and the configurations changed.
    fn delete(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: Cascade,
    ) -> Write<(u64, Vec<AccessKeyConfiguration>)>;
}

/// A delete's `?cascade=true`, with the credential it is done by: the records it changes on
/// the way (the routers that named a deleted key) name it as `lastUpdatedBy`. `None` refuses
/// to delete what others depend on.
pub type Cascade = Option<String>;

pub trait KeyStore: Send + Sync {
    /// Inserts the key; when `needs_provider`, only if a provider with its `providerId` exists
    /// (checked in the same transaction, so a concurrent provider delete cannot orphan it).
    fn create_key(&self, key: ProviderKey, needs_provider: bool) -> Write<ProviderKey>;
    fn get_key(&self, id: Ulid) -> Result<Option<ProviderKey>, StoreError>;
    /// Newest first, optionally only the keys of one `providerId`.
    fn list_keys(
        &self,
        provider: Option<&str>,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ProviderKey>, StoreError>;
    fn update_key(&self, id: Ulid, change: UpdateFn<ProviderKey>) -> Write<ProviderKey>;
    /// Removes the key if `precondition` allows. One a router names is refused with
    /// [`Rejection::KeyInUse`] unless `cascade`, which takes it out of those routers in the same
    /// transaction (see [`crate::domain::Router::without`]); answers the configurations changed.
    fn delete_key(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: Cascade,
    ) -> Write<Vec<AccessKeyConfiguration>>;
}

/// The gateway's own settings: one record, there from the start.
pub trait GatewayConfigStore: Send + Sync {
    /// The record; one never written reads as [`GatewayConfig::default`].
    fn gateway_config(&self) -> Result<GatewayConfig, StoreError>;
    /// Applies `change` atomically, to the default record when none was written.
    fn update_gateway_config(&self, change: UpdateFn<GatewayConfig>) -> Write<GatewayConfig>;
}

/// Each registered provider's health checks, newest first and bounded
/// ([`crate::domain::health::HISTORY`]); a provider's delete removes them in its transaction.
pub trait HealthStore: Send + Sync {
    /// Puts `check` into provider `id`'s history; [`Rejection::NotFound`] when the provider is
    /// gone (a check that ended after its delete keeps nothing).
    fn add_health_check(&self, id: Ulid, check: HealthCheck) -> Write<()>;
    /// Every provider's history, for the runtime state loaded at start.
    fn all_health(&self) -> Result<Vec<(Ulid, Vec<HealthCheck>)>, StoreError>;
}

pub trait ApiKeyStore: Send + Sync {
    fn create_api_key(&self, key: ApiKey) -> Write<ApiKey>;
    fn get_api_key(&self, id: Ulid) -> Result<Option<ApiKey>, StoreError>;
    /// Up to `limit` keys with ids below `before` (all when `None`), newest first.
    fn list_api_keys(&self, before: Option<Ulid>, limit: usize)
    -> Result<Page<ApiKey>, StoreError>;
    /// Every key, for the credentials loaded at start.
    fn all_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    fn update_api_key(&self, id: Ulid, change: UpdateFn<ApiKey>) -> Write<ApiKey>;
    /// Removes the key if `precondition` allows; answers it as it was.
    fn delete_api_key(&self, id: Ulid, precondition: Option<Precondition>) -> Write<ApiKey>;
}

pub trait AccessKeyStore: Send + Sync {
    /// Inserts the key; one scoped by a configuration only if that configuration exists
    /// (checked in the same transaction, so a concurrent delete cannot leave it unscoped):
    /// else [`Rejection::Invalid`] naming `accessKeyConfigurationId`.
    fn create_access_key(&self, key: AccessKey) -> Write<AccessKey>;
    fn get_access_key(&self, id: Ulid) -> Result<Option<AccessKey>, StoreError>;
    /// Up to `limit` keys with ids below `before` (all when `None`), newest first.
    fn list_access_keys(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<AccessKey>, StoreError>;
    /// Every key, for the credentials loaded at start.
    fn all_access_keys(&self) -> Result<Vec<AccessKey>, StoreError>;
    /// As [`AccessKeyStore::create_access_key`], a configuration the change names must exist.
    fn update_access_key(&self, id: Ulid, change: UpdateFn<AccessKey>) -> Write<AccessKey>;
    /// Removes the key if `precondition` allows; answers it as it was.
    fn delete_access_key(&self, id: Ulid, precondition: Option<Precondition>) -> Write<AccessKey>;
}

/// A configuration deleted, and the access keys it scoped that went with it.
pub type Deleted = (AccessKeyConfiguration, Vec<AccessKey>);

pub trait AccessKeyConfigurationStore: Send + Sync {
    /// Inserts the configuration and the provider keys its router creates (`new_keys`), in one
    /// transaction; every other key its router names must exist, as a key of the rule's
    /// provider, else [`Rejection::Invalid`] naming the step key.
    fn create_configuration(
        &self,
        c: AccessKeyConfiguration,
        new_keys: Vec<ProviderKey>,
    ) -> Write<AccessKeyConfiguration>;
    fn get_configuration(&self, id: Ulid) -> Result<Option<AccessKeyConfiguration>, StoreError>;
    /// Up to `limit` configurations with ids below `before` (all when `None`), newest first.
    fn list_configurations(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<AccessKeyConfiguration>, StoreError>;
    /// Every configuration, for the routing table loaded at start.
    fn all_configurations(&self) -> Result<Vec<AccessKeyConfiguration>, StoreError>;
    /// As [`AccessKeyConfigurationStore::create_configuration`] for the router the change
    /// leaves.
    fn update_configuration(
        &self,
        id: Ulid,
        change: UpdateFn<AccessKeyConfiguration>,
        new_keys: Vec<ProviderKey>,
    ) -> Write<AccessKeyConfiguration>;
    /// Removes the configuration if `precondition` allows. One that scopes access keys is
    /// refused with [`Rejection::InUse`] unless `cascade`, which deletes those keys in the same
    /// transaction (never leaving one unscoped).
    fn delete_configuration(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
        cascade: bool,
    ) -> Write<Deleted>;
}

/// Model aliases (`/model-aliases`). A name's uniqueness and the rules between aliases are the
/// registry's to check (its writes of aliases take turns, against the routing table).
pub trait ModelAliasStore: Send + Sync {
    fn create_model_alias(&self, alias: ModelAlias) -> Write<ModelAlias>;
    fn get_model_alias(&self, id: Ulid) -> Result<Option<ModelAlias>, StoreError>;
    /// Up to `limit` aliases with ids below `before` (all when `None`), newest first.
    fn list_model_aliases(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ModelAlias>, StoreError>;
    /// Every alias, for the routing table loaded at start.
    fn all_model_aliases(&self) -> Result<Vec<ModelAlias>, StoreError>;
    fn update_model_alias(&self, id: Ulid, change: UpdateFn<ModelAlias>) -> Write<ModelAlias>;
    /// Removes the alias if `precondition` allows; answers it as it was.
    fn delete_model_alias(&self, id: Ulid, precondition: Option<Precondition>)
    -> Write<ModelAlias>;
}

/// Model prices (`/prices`). A name's uniqueness is the registry's to check (its writes of
/// prices take turns, against the routing table).
pub trait PriceStore: Send + Sync {
    fn create_price(&self, price: ModelPrice) -> Write<ModelPrice>;
    fn get_price(&self, id: Ulid) -> Result<Option<ModelPrice>, StoreError>;
    /// Up to `limit` prices with ids below `before` (all when `None`), newest first.
    fn list_prices(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ModelPrice>, StoreError>;
    /// Every price, for the routing table loaded at start.
    fn all_prices(&self) -> Result<Vec<ModelPrice>, StoreError>;
    fn update_price(&self, id: Ulid, change: UpdateFn<ModelPrice>) -> Write<ModelPrice>;
    /// Removes the price if `precondition` allows; answers it as it was.
    fn delete_price(&self, id: Ulid, precondition: Option<Precondition>) -> Write<ModelPrice>;
}

/// A change of a provider and its dialects' extension together: `Ok(None)` changes nothing.
pub type ExtendedUpdateFn = Box<
    dyn Fn(&Provider, &Extension) -> Result<Option<(Provider, Extension)>, Rejection> + Send + Sync,
>;

/// Each provider's [`Extension`] (the fields of the other dialects), beside its record and
/// written in the transactions that write the record; a provider's delete removes it.
pub trait ExtensionStore: Send + Sync {
    /// The provider's extension; one never written reads as empty.
    fn extension(&self, id: Ulid) -> Result<Extension, StoreError>;
    /// Every provider's extension that is not empty, for the routing table loaded at start.
    fn all_extensions(&self) -> Result<Vec<(Ulid, Extension)>, StoreError>;
    /// [`ProviderStore::create`], with the extension and (AgentStack's `api_key`) a first key
    /// of the provider in the same transaction; with `unique_base_url`, refused
    /// ([`Rejection::BaseUrlTaken`]) when another provider has its base URL, checked in that
    /// transaction.
    fn create_extended(
        &self,
        provider: Provider,
        extension: Extension,
        key: Option<ProviderKey>,
        unique_base_url: bool,
    ) -> Write<(Provider, Extension)>;
    /// Applies `change` to the record and its extension atomically.
    fn update_extended(&self, id: Ulid, change: ExtendedUpdateFn) -> Write<(Provider, Extension)>;
}

/// Each catalog provider's discovered models, by catalog id.
pub trait CatalogModelsStore: Send + Sync {
    /// The record of `catalog_id`; one never discovered reads as an empty list at version 0.
    fn catalog_models(&self, catalog_id: &str) -> Result<CatalogModels, StoreError>;
    /// Every record, for the routing table loaded at start.
    fn all_catalog_models(&self) -> Result<Vec<CatalogModels>, StoreError>;
    /// Applies `change` atomically, to the empty record when none was written.
    fn update_catalog_models(
        &self,
        catalog_id: &str,
        change: UpdateFn<CatalogModels>,
    ) -> Write<CatalogModels>;
}

/// How the offline master-key rotation changes each record that holds a sealed secret:
/// `Ok(None)` leaves it as it is.
pub struct Rewrap<'a> {
    pub key: &'a dyn Fn(&ProviderKey) -> Result<Option<ProviderKey>, CryptoError>,
    pub provider: &'a dyn Fn(&Provider) -> Result<Option<Provider>, CryptoError>,
}

/// What start-up and the offline master-key rotation need: blocking calls, made with the data
/// dir to themselves and no server running.
pub trait SecretsStore: Send + Sync {
    /// The value that tells whether a master key is the one this store's secrets are under.
    fn master_key_check(&self) -> Result<Option<Sealed>, StoreError>;
    fn set_master_key_check(&self, check: &Sealed) -> Result<(), StoreError>;
    /// Replaces every sealed secret — keys through `key`, providers' (proxy passwords) through
    /// `provider` — and the check value, all in one transaction (a crash leaves either all old
    /// or all new); answers how many records it re-wrapped.
    fn rewrap_secrets(&self, rewrap: &Rewrap<'_>, check: &Sealed) -> Result<usize, StoreError>;
    /// When an earlier store format left secrets in the clear (credential headers), seals
    /// every provider `seal` changes and then leaves no earlier value anywhere in the data
    /// dir; answers how many providers it sealed, or `None` when there was nothing to do.
    fn seal_plaintext(
        &self,
        seal: &dyn Fn(&Provider) -> Result<Option<Provider>, CryptoError>,
    ) -> Result<Option<usize>, StoreError>;
}

/// The whole store, as one handle.
pub trait Store:
    ProviderStore
    + KeyStore
    + ApiKeyStore
    + AccessKeyStore
    + AccessKeyConfigurationStore
    + SecretsStore
    + GatewayConfigStore
    + ModelAliasStore
    + PriceStore
    + CatalogModelsStore
    + HealthStore
    + ExtensionStore
{
    /// Answers only when the store can serve reads and take writes.
    fn ping(&self) -> Pending<()>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Pending<()>;
}
