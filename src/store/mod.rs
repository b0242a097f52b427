//! Where providers and their keys are kept. Routes talk to the [`ProviderStore`] and
//! [`KeyStore`] traits only, so a networked backend is one more implementation beside
//! [`sled::SledStore`].
//!
//! Every method is blocking: callers run them off the async executor.

pub mod sled;

use ulid::Ulid;

use crate::domain::{Precondition, Provider, ProviderKey};
use crate::secrets::{CryptoError, Sealed};

/// A request the store refused because of what it holds, as opposed to a [`StoreError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NotFound,
    ProviderIdTaken,
    PreconditionFailed,
    /// A key names a `providerId` that is neither registered nor a catalog id.
    UnknownProvider,
    /// The provider still has this many keys.
    HasKeys(u64),
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
        source: postcard::Error,
    },
    #[error("encoding record: {0}")]
    Encode(postcard::Error),
    #[error("re-wrapping key {id}: {source}")]
    Rewrap { id: Ulid, source: CryptoError },
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

/// The change an update makes, decided against the record as it is inside the transaction:
/// `Ok(None)` leaves the record as it is.
pub type UpdateFn<'a, T> = dyn Fn(&T) -> Result<Option<T>, Rejection> + 'a;

/// Outcome of a write: the outer `Result` is the store failing, the inner one the request being
/// refused. An accepted write is applied but not yet durable: [`Durable::wait`] is.
pub type Outcome<T> = Result<Result<Durable<T>, Rejection>, StoreError>;

/// A write's result, to be released only once the write is on disk. Awaiting costs no thread:
/// concurrent writers share one flush (group commit) and are woken when it returns.
#[must_use = "a write is not durable until waited for"]
pub struct Durable<T> {
    value: T,
    flush: Option<tokio::sync::oneshot::Receiver<Result<(), String>>>,
}

impl<T> Durable<T> {
    /// Already durable (nothing was written) or to become so with `flush`.
    pub fn new(
        value: T,
        flush: Option<tokio::sync::oneshot::Receiver<Result<(), String>>>,
    ) -> Self {
        Durable { value, flush }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Durable<U> {
        Durable {
            value: f(self.value),
            flush: self.flush,
        }
    }

    pub async fn wait(self) -> Result<T, StoreError> {
        if let Some(flush) = self.flush {
            settled(flush.await)?;
        }
        Ok(self.value)
    }

    /// For callers outside an async runtime (command-line tools, tests).
    pub fn wait_blocking(self) -> Result<T, StoreError> {
        if let Some(flush) = self.flush {
            settled(flush.blocking_recv())?;
        }
        Ok(self.value)
    }
}

fn settled(
    flushed: Result<Result<(), String>, tokio::sync::oneshot::error::RecvError>,
) -> Result<(), StoreError> {
    match flushed {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StoreError::Flush(e)),
        Err(_) => Err(StoreError::Flush(
            "the flusher stopped before this write was flushed".into(),
        )),
    }
}

pub trait ProviderStore: Send + Sync {
    /// Inserts the provider unless its `providerId` is taken.
    fn create(&self, provider: &Provider) -> Outcome<()>;
    fn get(&self, id: Ulid) -> Result<Option<Provider>, StoreError>;
    /// Up to `limit` providers with ids below `before` (all when `None`), newest first.
    fn list(&self, before: Option<Ulid>, limit: usize) -> Result<Page<Provider>, StoreError>;
    /// Applies `change` atomically: no concurrent write is lost, however many race.
    fn update(&self, id: Ulid, change: &UpdateFn<'_, Provider>) -> Outcome<Provider>;
    /// Removes the provider (and frees its `providerId`) if `precondition` allows. A provider
    /// with keys is refused with [`Rejection::HasKeys`] unless `cascade`, which removes its
    /// keys in the same transaction; answers how many keys went with it.
    fn delete(&self, id: Ulid, precondition: Option<&Precondition>, cascade: bool) -> Outcome<u64>;
    /// Answers only when the store can serve reads.
    fn ping(&self) -> Result<(), StoreError>;
    /// Makes everything written so far durable.
    fn flush(&self) -> Result<(), StoreError>;
}

pub trait KeyStore: Send + Sync {
    /// Inserts the key; when `needs_provider`, only if a provider with its `providerId` exists
    /// (checked in the same transaction, so a concurrent provider delete cannot orphan it).
    fn create_key(&self, key: &ProviderKey, needs_provider: bool) -> Outcome<()>;
    fn get_key(&self, id: Ulid) -> Result<Option<ProviderKey>, StoreError>;
    /// Newest first, optionally only the keys of one `providerId`.
    fn list_keys(
        &self,
        provider: Option<&str>,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ProviderKey>, StoreError>;
    fn update_key(&self, id: Ulid, change: &UpdateFn<'_, ProviderKey>) -> Outcome<ProviderKey>;
    fn delete_key(&self, id: Ulid, precondition: Option<&Precondition>) -> Outcome<()>;
    /// The value that tells whether a master key is the one this store's secrets are under.
    fn master_key_check(&self) -> Result<Option<Sealed>, StoreError>;
    fn set_master_key_check(&self, check: &Sealed) -> Result<(), StoreError>;
    /// Replaces every sealed key through `rewrap` and the check value, all in one transaction
    /// (a crash leaves either all old or all new); answers how many keys it re-wrapped.
    fn rewrap_keys(
        &self,
        rewrap: &dyn Fn(&ProviderKey) -> Result<Option<ProviderKey>, CryptoError>,
        check: &Sealed,
    ) -> Result<usize, StoreError>;
}
