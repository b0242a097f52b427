//! Where providers are kept. Routes talk to the [`ProviderStore`] trait only, so a networked
//! backend is one more implementation beside [`sled::SledStore`].
//!
//! Every method is blocking: callers run them off the async executor.

pub mod sled;

use ulid::Ulid;

use crate::domain::{Precondition, Provider};

/// A request the store refused because of what it holds, as opposed to a [`StoreError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NotFound,
    ProviderIdTaken,
    PreconditionFailed,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage engine: {0}")]
    Engine(#[from] ::sled::Error),
    #[error("flushing to disk: {0}")]
    Flush(String),
    #[error("corrupt record {key}: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
    #[error("encoding record: {0}")]
    Encode(serde_json::Error),
}

/// One page of providers, newest first.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Provider>,
    pub has_more: bool,
}

/// The change an update makes, decided against the record as it is inside the transaction:
/// `Ok(None)` leaves the record as it is.
pub type UpdateFn<'a> = dyn Fn(&Provider) -> Result<Option<Provider>, Rejection> + 'a;

/// Outcome of a write: the outer `Result` is the store failing, the inner one the request being
/// refused. Every `Ok` is durable when returned.
pub type Outcome<T> = Result<Result<T, Rejection>, StoreError>;

pub trait ProviderStore: Send + Sync {
    /// Inserts the provider unless its `providerId` is taken.
    fn create(&self, provider: &Provider) -> Outcome<()>;
    fn get(&self, id: Ulid) -> Result<Option<Provider>, StoreError>;
    /// Up to `limit` providers with ids below `before` (all when `None`), newest first.
    fn list(&self, before: Option<Ulid>, limit: usize) -> Result<Page, StoreError>;
    /// Applies `change` atomically: no concurrent write is lost, however many race.
    fn update(&self, id: Ulid, change: &UpdateFn<'_>) -> Outcome<Provider>;
    /// Removes the provider (and frees its `providerId`) if `precondition` allows.
    fn delete(&self, id: Ulid, precondition: Option<&Precondition>) -> Outcome<()>;
    /// Answers only when the store can serve reads.
    fn ping(&self) -> Result<(), StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
}
