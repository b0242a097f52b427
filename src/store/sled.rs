//! The embedded store: one sled tree of records (16-byte big-endian ULID → postcard-encoded
//! record) and one index tree (`providerId` → record key). postcard, not JSON: records are half
//! the size (more of the store fits sled's cache) and decode several times faster.
//!
//! Every write is one transaction over the trees it touches; the caller then awaits a
//! group-committed flush before it reports the write done.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::{IVec, Transactional};
use ulid::Ulid;

use super::{Durable, KeyStore, Outcome, Page, ProviderStore, Rejection, StoreError, UpdateFn};
use crate::domain::{Precondition, Provider, ProviderKey};
use crate::secrets::{CryptoError, Sealed};

/// Bumped whenever the on-disk layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_FILE: &str = "format-version";
const LOCK_FILE: &str = "modelgate.lock";
const DB_DIR: &str = "db";
const RECORDS_TREE: &str = "providers";
const INDEX_TREE: &str = "providers_by_provider_id";
const KEYS_TREE: &str = "provider_keys";
const KEYS_BY_PROVIDER_TREE: &str = "provider_keys_by_provider_id";
const KEY_COUNTS_TREE: &str = "provider_key_counts";
const META_TREE: &str = "meta";
/// Free space below which a failed engine is not reopened: opening writes a new log segment.
const REOPEN_MIN_FREE_BYTES: u64 = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data dir {path} cannot be used: {source}")]
    NotWritable { path: PathBuf, source: io::Error },
    #[error("data dir {path} is in use by another running modelgate{holder}")]
    Locked { path: PathBuf, holder: String },
    #[error(
        "data dir {path} holds store format {found}, but this modelgate reads format {FORMAT_VERSION}"
    )]
    Format { path: PathBuf, found: String },
    #[error(
        "data dir {path} has a store but no {FORMAT_FILE} marker; it was not made by modelgate"
    )]
    NoMarker { path: PathBuf },
    #[error("cannot open the store in {path}: {source}")]
    Engine { path: PathBuf, source: sled::Error },
}

pub struct SledStore {
    /// The open engine; `None` only between dropping a failed engine and opening its
    /// successor. Swapped whole when the store reopens after an I/O error.
    engine: RwLock<Option<Arc<Engine>>>,
    /// Where the store lives, for reopening and for the free-space check before each write.
    dir: PathBuf,
    cache_capacity_bytes: u64,
    /// Writes are refused while the data dir's file system has less than this free.
    reserve_bytes: u64,
    /// Held for the life of the store so a second process cannot open the same data dir.
    _lock: File,
}

/// One opened sled database and its trees.
struct Engine {
    records: sled::Tree,
    index: sled::Tree,
    keys: sled::Tree,
    /// `providerId` 0x00 key-id → (): a provider's keys in id order.
    keys_by_provider: sled::Tree,
    /// `providerId` → number of keys (u64 BE): sled transactions cannot scan, so a provider
    /// delete learns whether keys exist from this counter, inside its transaction.
    key_counts: sled::Tree,
    meta: sled::Tree,
    commits: GroupCommit,
}

impl Engine {
    fn open(dir: &Path, cache_capacity_bytes: u64) -> Result<Engine, sled::Error> {
        let db = sled::Config::new()
            .path(dir.join(DB_DIR))
            .cache_capacity(cache_capacity_bytes)
            .open()?;
        Ok(Engine {
            records: db.open_tree(RECORDS_TREE)?,
            index: db.open_tree(INDEX_TREE)?,
            keys: db.open_tree(KEYS_TREE)?,
            keys_by_provider: db.open_tree(KEYS_BY_PROVIDER_TREE)?,
            key_counts: db.open_tree(KEY_COUNTS_TREE)?,
            meta: db.open_tree(META_TREE)?,
            commits: GroupCommit::new(db),
        })
    }

    /// Whether a write or flush of this engine met an I/O error. sled 0.34 then refuses every
    /// later write for the life of the `Db`; only a new `Db` on the same files recovers.
    fn failed(&self) -> bool {
        self.commits.shared.failed.load(Ordering::Acquire)
    }

    /// Turns a transaction's result into an [`Outcome`] that, when it wrote, becomes durable
    /// with the next group flush.
    fn settle<T>(&self, result: Result<(T, bool), TransactionError<Abort>>) -> Outcome<T> {
        match result {
            Ok((value, wrote)) => {
                let flush = wrote.then(|| self.commits.after_write());
                Ok(Ok(Durable::new(value, flush)))
            }
            Err(TransactionError::Abort(Abort::Rejected(r))) => Ok(Err(r)),
            Err(TransactionError::Abort(Abort::Failed(e))) => Err(e),
            Err(TransactionError::Abort(Abort::Retry)) => Err(StoreError::Flush(
                "transaction retry escaped its loop".into(),
            )),
            Err(TransactionError::Storage(e)) => {
                self.commits.shared.failed.store(true, Ordering::Release);
                Err(e.into())
            }
        }
    }

    /// The ids of `slug`'s keys, read outside any transaction.
    fn key_ids_of(&self, slug: &str) -> Result<Vec<[u8; 16]>, StoreError> {
        self.keys_by_provider
            .scan_prefix(provider_prefix(slug))
            .keys()
            .map(|k| Ok(key_id_from_index(&k?)))
            .collect()
    }
}

impl SledStore {
    pub fn open(dir: &Path, cache_capacity_bytes: u64) -> Result<SledStore, OpenError> {
        let not_writable = |source| OpenError::NotWritable {
            path: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(not_writable)?;
        let lock = lock_data_dir(dir)?;
        check_format_marker(dir)?;
        let engine =
            Engine::open(dir, cache_capacity_bytes).map_err(|source| OpenError::Engine {
                path: dir.to_owned(),
                source,
            })?;
        Ok(SledStore {
            engine: RwLock::new(Some(Arc::new(engine))),
            dir: dir.to_owned(),
            cache_capacity_bytes,
            reserve_bytes: 0,
            _lock: lock,
        })
    }

    /// Refuse writes while fewer than `bytes` are free. sled 0.34 poisons itself on its first
    /// failed write (ENOSPC included) and cannot open on a full disk, so a full disk is best
    /// never met: with a reserve, writes stop cleanly before it and resume when space returns.
    pub fn with_free_space_reserve(mut self, bytes: u64) -> SledStore {
        self.reserve_bytes = bytes;
        self
    }

    /// The engine, for reading.
    fn engine(&self) -> Result<Arc<Engine>, StoreError> {
        self.engine
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(StoreError::Failed)
    }

    /// The engine, for a write that may start now: the file system is writable and has the
    /// reserve free, and the engine is sound, or was reopened because the fault that broke
    /// it is gone. Checked before every transaction, so a refused write changes nothing.
    fn writer(&self) -> Result<Arc<Engine>, StoreError> {
        let free = writable_space(&self.dir)?;
        if let Ok(engine) = self.engine()
            && !engine.failed()
        {
            if free < self.reserve_bytes {
                return Err(StoreError::Full {
                    free,
                    reserve: self.reserve_bytes,
                });
            }
            return Ok(engine);
        }
        // A failed engine still serves reads; it is only given up for a new one when the new
        // one can open, since sled cannot open on a (nearly) full disk.
        if free < self.reserve_bytes.max(REOPEN_MIN_FREE_BYTES) {
            return Err(StoreError::Failed);
        }
        self.reopen()
    }

    /// Replaces a failed engine with a fresh one on the same files. sled's recovery then
    /// yields exactly what reached the disk: every acknowledged write, and none that failed.
    fn reopen(&self) -> Result<Arc<Engine>, StoreError> {
        let mut slot = self.engine.write().unwrap_or_else(|e| e.into_inner());
        if let Some(engine) = slot.as_ref()
            && !engine.failed()
        {
            return Ok(Arc::clone(engine));
        }
        if let Some(old) = slot.take() {
            // sled locks its files: the old `Db` must be gone before a new one opens. Readers
            // holding it finish in microseconds; new ones wait on the lock held here.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while Arc::strong_count(&old) > 1 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            if Arc::strong_count(&old) > 1 {
                *slot = Some(old);
                return Err(StoreError::Failed);
            }
            drop(old);
        }
        match Engine::open(&self.dir, self.cache_capacity_bytes) {
            Ok(engine) => {
                log::warn!(
                    "store reopened after an I/O error; it holds what reached the disk, and \
                     takes writes again"
                );
                let engine = Arc::new(engine);
                *slot = Some(Arc::clone(&engine));
                Ok(engine)
            }
            Err(e) => {
                log::error!("store cannot be reopened yet: {e}");
                Err(StoreError::Failed)
            }
        }
    }
}

/// The bytes an unprivileged writer may still use on the file system holding `dir`, or
/// [`StoreError::ReadOnly`] when it takes no writes at all.
fn writable_space(dir: &Path) -> Result<u64, StoreError> {
    let stat = nix::sys::statvfs::statvfs(dir)
        .map_err(|e| StoreError::Flush(format!("cannot stat the data dir: {e}")))?;
    if stat.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err(StoreError::ReadOnly);
    }
    Ok(stat.blocks_available() as u64 * stat.fragment_size() as u64)
}

/// Why a transaction stopped early.
enum Abort {
    Rejected(Rejection),
    Failed(StoreError),
    /// What was read before the transaction changed under it: read again and retry.
    Retry,
}

type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

fn reject<T>(r: Rejection) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Abort::Rejected(r)))
}

fn failed(e: StoreError) -> ConflictableTransactionError<Abort> {
    ConflictableTransactionError::Abort(Abort::Failed(e))
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|source| StoreError::Corrupt {
        key: <[u8; 16]>::try_from(key)
            .map_or_else(|_| hex::encode(key), |k| Ulid::from_bytes(k).to_string()),
        source,
    })
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(StoreError::Encode)
}

fn provider_prefix(slug: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(slug.len() + 1);
    prefix.extend_from_slice(slug.as_bytes());
    prefix.push(0);
    prefix
}

fn key_index_entry(slug: &str, id: &[u8; 16]) -> Vec<u8> {
    let mut entry = provider_prefix(slug);
    entry.extend_from_slice(id);
    entry
}

fn key_id_from_index(entry: &[u8]) -> [u8; 16] {
    let mut id = [0u8; 16];
    id.copy_from_slice(&entry[entry.len() - 16..]);
    id
}

fn count_of(bytes: Option<IVec>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}

fn get_in<T: DeserializeOwned>(tree: &sled::Tree, id: Ulid) -> Result<Option<T>, StoreError> {
    let key = id.to_bytes();
    tree.get(key)?.map(|bytes| decode(&key, &bytes)).transpose()
}

/// Reads a page from `entries`, newest first; one entry past the page tells whether more
/// exist, without decoding it or counting the rest.
fn page_of<I, T>(
    entries: impl Iterator<Item = sled::Result<I>>,
    limit: usize,
    mut fetch: impl FnMut(I) -> Result<Option<T>, StoreError>,
) -> Result<Page<T>, StoreError> {
    let mut items = Vec::with_capacity(limit);
    for entry in entries {
        let entry = entry?;
        if items.len() == limit {
            return Ok(Page {
                items,
                has_more: true,
            });
        }
        if let Some(item) = fetch(entry)? {
            items.push(item);
        }
    }
    Ok(Page {
        items,
        has_more: false,
    })
}

fn decode_entry<T: DeserializeOwned>((key, value): (IVec, IVec)) -> Result<Option<T>, StoreError> {
    decode(&key, &value).map(Some)
}

/// Atomic read-modify-write of one record of `tree`.
fn update_in<T: Serialize + DeserializeOwned>(
    engine: &Engine,
    tree: &sled::Tree,
    id: Ulid,
    change: &UpdateFn<'_, T>,
) -> Outcome<T> {
    let key = id.to_bytes();
    let result = tree.transaction(|records| {
        let Some(bytes) = records.get(key)? else {
            return reject(Rejection::NotFound);
        };
        let current: T = decode(&key, &bytes).map_err(failed)?;
        match change(&current) {
            Err(r) => reject(r),
            Ok(None) => Ok((current, false)),
            Ok(Some(next)) => {
                records.insert(&key[..], encode(&next).map_err(failed)?)?;
                Ok((next, true))
            }
        }
    });
    engine.settle(result)
}

impl ProviderStore for SledStore {
    fn create(&self, provider: &Provider) -> Outcome<()> {
        let e = self.writer()?;
        let key = provider.id.to_bytes();
        let value = encode(provider)?;
        let slug = provider.provider_id.as_str().as_bytes();
        let result = (&e.records, &e.index).transaction(|(records, index)| {
            if index.get(slug)?.is_some() {
                return reject(Rejection::ProviderIdTaken);
            }
            index.insert(slug, &key[..])?;
            records.insert(&key[..], value.as_slice())?;
            Ok(((), true))
        });
        e.settle(result)
    }

    fn get(&self, id: Ulid) -> Result<Option<Provider>, StoreError> {
        get_in(&self.engine()?.records, id)
    }

    fn list(&self, before: Option<Ulid>, limit: usize) -> Result<Page<Provider>, StoreError> {
        let e = self.engine()?;
        let entries = match before {
            Some(before) => e.records.range(..before.to_bytes()),
            None => e.records.iter(),
        };
        page_of(entries.rev(), limit, decode_entry)
    }

    fn update(&self, id: Ulid, change: &UpdateFn<'_, Provider>) -> Outcome<Provider> {
        let e = self.writer()?;
        update_in(&e, &e.records, id, change)
    }

    fn delete(&self, id: Ulid, precondition: Option<&Precondition>, cascade: bool) -> Outcome<u64> {
        let e = self.writer()?;
        let key = id.to_bytes();
        loop {
            let Some(found) = self.get(id)? else {
                return Ok(Err(Rejection::NotFound));
            };
            let slug = found.provider_id.as_str();
            let key_ids = if cascade {
                e.key_ids_of(slug)?
            } else {
                Vec::new()
            };
            let result = (
                &e.records,
                &e.index,
                &e.keys,
                &e.keys_by_provider,
                &e.key_counts,
            )
                .transaction(|(records, index, keys, keys_by_provider, key_counts)| {
                    let Some(bytes) = records.get(key)? else {
                        return reject(Rejection::NotFound);
                    };
                    let current: Provider = decode(&key, &bytes).map_err(failed)?;
                    if precondition.is_some_and(|p| !p.allows(&current.etag())) {
                        return reject(Rejection::PreconditionFailed);
                    }
                    let count = count_of(key_counts.get(slug.as_bytes())?);
                    if count > 0 && !cascade {
                        return reject(Rejection::HasKeys(count));
                    }
                    if count != key_ids.len() as u64 {
                        return Err(ConflictableTransactionError::Abort(Abort::Retry));
                    }
                    for key_id in &key_ids {
                        keys.remove(&key_id[..])?;
                        keys_by_provider.remove(key_index_entry(slug, key_id))?;
                    }
                    key_counts.remove(slug.as_bytes())?;
                    records.remove(&key[..])?;
                    index.remove(slug.as_bytes())?;
                    Ok((count, true))
                });
            if matches!(result, Err(TransactionError::Abort(Abort::Retry))) {
                continue;
            }
            return e.settle(result);
        }
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.engine()?.records.first()?;
        self.writer().map(drop)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.engine()?.commits.sync()
    }
}

const MASTER_KEY_CHECK: &[u8] = b"master_key_check";

impl KeyStore for SledStore {
    fn create_key(&self, key: &ProviderKey, needs_provider: bool) -> Outcome<()> {
        let e = self.writer()?;
        let id = key.id.to_bytes();
        let value = encode(key)?;
        let slug = key.provider_id.as_str();
        let result = (&e.keys, &e.keys_by_provider, &e.key_counts, &e.index).transaction(
            |(keys, keys_by_provider, key_counts, providers)| {
                if needs_provider && providers.get(slug.as_bytes())?.is_none() {
                    return reject(Rejection::UnknownProvider);
                }
                let count = count_of(key_counts.get(slug.as_bytes())?);
                keys.insert(&id[..], value.as_slice())?;
                keys_by_provider.insert(key_index_entry(slug, &id), &[][..])?;
                key_counts.insert(slug.as_bytes(), &(count + 1).to_be_bytes()[..])?;
                Ok(((), true))
            },
        );
        e.settle(result)
    }

    fn get_key(&self, id: Ulid) -> Result<Option<ProviderKey>, StoreError> {
        get_in(&self.engine()?.keys, id)
    }

    fn list_keys(
        &self,
        provider: Option<&str>,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ProviderKey>, StoreError> {
        let e = self.engine()?;
        match provider {
            None => {
                let entries = match before {
                    Some(before) => e.keys.range(..before.to_bytes()),
                    None => e.keys.iter(),
                };
                page_of(entries.rev(), limit, decode_entry)
            }
            Some(slug) => {
                let start = provider_prefix(slug);
                let end = match before {
                    Some(before) => key_index_entry(slug, &before.to_bytes()),
                    // Just past every `slug\0…` entry.
                    None => [slug.as_bytes(), &[1]].concat(),
                };
                let ids = e.keys_by_provider.range(start..end).keys().rev();
                page_of(ids, limit, |entry| {
                    let id = key_id_from_index(&entry);
                    e.keys.get(id)?.map(|bytes| decode(&id, &bytes)).transpose()
                })
            }
        }
    }

    fn update_key(&self, id: Ulid, change: &UpdateFn<'_, ProviderKey>) -> Outcome<ProviderKey> {
        let e = self.writer()?;
        update_in(&e, &e.keys, id, change)
    }

    fn delete_key(&self, id: Ulid, precondition: Option<&Precondition>) -> Outcome<()> {
        let e = self.writer()?;
        let key = id.to_bytes();
        let result = (&e.keys, &e.keys_by_provider, &e.key_counts).transaction(
            |(keys, keys_by_provider, key_counts)| {
                let Some(bytes) = keys.get(key)? else {
                    return reject(Rejection::NotFound);
                };
                let current: ProviderKey = decode(&key, &bytes).map_err(failed)?;
                if precondition.is_some_and(|p| !p.allows(&current.etag())) {
                    return reject(Rejection::PreconditionFailed);
                }
                let slug = current.provider_id.as_str();
                keys.remove(&key[..])?;
                keys_by_provider.remove(key_index_entry(slug, &key))?;
                match count_of(key_counts.get(slug.as_bytes())?) {
                    0 | 1 => key_counts.remove(slug.as_bytes())?,
                    n => key_counts.insert(slug.as_bytes(), &(n - 1).to_be_bytes()[..])?,
                };
                Ok(((), true))
            },
        );
        e.settle(result)
    }

    fn master_key_check(&self) -> Result<Option<Sealed>, StoreError> {
        self.engine()?
            .meta
            .get(MASTER_KEY_CHECK)?
            .map(|bytes| decode(MASTER_KEY_CHECK, &bytes))
            .transpose()
    }

    fn set_master_key_check(&self, check: &Sealed) -> Result<(), StoreError> {
        let e = self.writer()?;
        e.meta.insert(MASTER_KEY_CHECK, encode(check)?)?;
        e.commits.sync()
    }

    fn rewrap_keys(
        &self,
        rewrap: &dyn Fn(&ProviderKey) -> Result<Option<ProviderKey>, CryptoError>,
        check: &Sealed,
    ) -> Result<usize, StoreError> {
        // Re-wrapping runs with the data dir locked and no server: nothing writes meanwhile.
        let e = self.writer()?;
        let mut replaced = Vec::new();
        for entry in e.keys.iter() {
            let (id, bytes) = entry?;
            let key: ProviderKey = decode(&id, &bytes)?;
            if let Some(new) =
                rewrap(&key).map_err(|source| StoreError::Rewrap { id: key.id, source })?
            {
                replaced.push((id, encode(&new)?));
            }
        }
        let check = encode(check)?;
        let result = (&e.keys, &e.meta).transaction(|(keys, meta)| {
            for (id, value) in &replaced {
                keys.insert(id, value.as_slice())?;
            }
            meta.insert(MASTER_KEY_CHECK, check.as_slice())?;
            Ok((replaced.len(), true))
        });
        e.settle(result)?
            .map_err(|r| StoreError::Flush(format!("re-wrap transaction refused: {r:?}")))?
            .wait_blocking()
    }
}

/// Group commit: one thread flushes for every write that registered since its last flush.
/// A writer registers after its transaction applied, and the flusher takes the whole batch
/// before calling `flush()`, so that flush covers every write in the batch. Waiters are
/// callbacks, so an async writer holds no thread while it waits.
///
/// `Db::flush_async` is deliberately not used: concurrent calls deadlock in sled 0.34
/// (spacejam/sled#1308).
struct GroupCommit {
    shared: Arc<Shared>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

type Waiter = Box<dyn FnOnce(Result<(), String>) + Send>;

struct Shared {
    state: Mutex<Pending>,
    wake: Condvar,
    /// Set by the first failed flush or write: sled 0.34 never recovers from one in-process.
    failed: AtomicBool,
}

#[derive(Default)]
struct Pending {
    waiters: Vec<Waiter>,
    stop: bool,
}

impl GroupCommit {
    fn new(db: sled::Db) -> GroupCommit {
        let shared = Arc::new(Shared {
            state: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            failed: AtomicBool::new(false),
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("modelgate-flush".into())
                .spawn(move || flush_loop(&db, &shared))
                .expect("spawning the flush thread")
        };
        GroupCommit {
            shared,
            flusher: Some(flusher),
        }
    }

    fn register(&self, waiter: Waiter) {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.waiters.push(waiter);
        drop(state);
        self.shared.wake.notify_one();
    }

    /// Resolves once a flush that began after this call returned.
    fn after_write(&self) -> tokio::sync::oneshot::Receiver<Result<(), String>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.register(Box::new(move |result| {
            let _ = tx.send(result);
        }));
        rx
    }

    /// Blocks until everything written so far is durable.
    fn sync(&self) -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.register(Box::new(move |result| {
            let _ = tx.send(result);
        }));
        rx.recv()
            .map_err(|_| StoreError::Flush("the flusher stopped".into()))?
            .map_err(StoreError::Flush)
    }
}

fn flush_loop(db: &sled::Db, shared: &Shared) {
    loop {
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.waiters.is_empty() && !state.stop {
            state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.waiters.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut state.waiters);
        drop(state);
        let result = db.flush().map(drop).map_err(|e| e.to_string());
        if let Err(e) = &result {
            log::error!("flush failed; the store takes no writes until it is reopened: {e}");
            shared.failed.store(true, Ordering::Release);
        }
        for waiter in batch {
            waiter(result.clone());
        }
    }
}

impl Drop for GroupCommit {
    /// Flushes what is pending, then lets the thread (and its handle on the database) go, so the
    /// data dir can be opened again in the same process.
    fn drop(&mut self) {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.stop = true;
        drop(state);
        self.shared.wake.notify_one();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

/// Takes an exclusive lock on `<dir>/modelgate.lock` and records our pid in it, so that a
/// second modelgate on the same dir fails at once with a message naming the holder.
fn lock_data_dir(dir: &Path) -> Result<File, OpenError> {
    let path = dir.join(LOCK_FILE);
    let not_writable = |source| OpenError::NotWritable {
        path: dir.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(not_writable)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(OpenError::Locked {
                path: dir.to_owned(),
                holder: if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                },
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(not_writable(e)),
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(not_writable)?;
    Ok(file)
}

fn check_format_marker(dir: &Path) -> Result<(), OpenError> {
    let marker = dir.join(FORMAT_FILE);
    match fs::read_to_string(&marker) {
        Ok(found) if found.trim() == FORMAT_VERSION.to_string() => Ok(()),
        Ok(found) => Err(OpenError::Format {
            path: dir.to_owned(),
            found: found.trim().chars().take(32).collect(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if dir.join(DB_DIR).exists() {
                return Err(OpenError::NoMarker {
                    path: dir.to_owned(),
                });
            }
            write_durably(&marker, format!("{FORMAT_VERSION}\n").as_bytes()).map_err(|source| {
                OpenError::NotWritable {
                    path: dir.to_owned(),
                    source,
                }
            })
        }
        Err(source) => Err(OpenError::NotWritable {
            path: dir.to_owned(),
            source,
        }),
    }
}

/// Writes a small file so that after a crash it is either absent or complete.
fn write_durably(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CreateProvider, NewProvider, now_ms};

    fn provider(slug: &str) -> Provider {
        let new = NewProvider::parse(CreateProvider {
            provider_id: Some(slug.into()),
            name: Some("Local".into()),
            base_url: Some("http://127.0.0.1:11434/v1".into()),
            ..Default::default()
        })
        .expect("valid provider");
        Provider::create(new, now_ms(), "admin")
    }

    /// A live switch to read-only cannot be staged under a running store (the kernel refuses
    /// to remount with files open for writing), so the check is tried on its own, on a
    /// file system mounted read-only from the start. Needs root, like the fault tests.
    #[test]
    fn a_read_only_file_system_is_told_apart_from_a_full_one() {
        use nix::mount::{MntFlags, MsFlags, mount, umount2};
        let dir = tempfile::tempdir().unwrap();
        let (rw, ro) = (dir.path().join("rw"), dir.path().join("ro"));
        for (path, flags) in [(&rw, MsFlags::empty()), (&ro, MsFlags::MS_RDONLY)] {
            fs::create_dir(path).unwrap();
            mount(Some("tmpfs"), path, Some("tmpfs"), flags, Some("size=4m"))
                .expect("mounting a tmpfs needs CAP_SYS_ADMIN (root)");
        }
        let outcome = (writable_space(&rw), writable_space(&ro));
        for path in [&rw, &ro] {
            umount2(path, MntFlags::MNT_DETACH).unwrap();
        }
        let free = outcome.0.unwrap();
        assert!((3 << 20..=4 << 20).contains(&free), "{free}");
        assert!(matches!(outcome.1, Err(StoreError::ReadOnly)));
    }

    #[test]
    fn a_second_store_on_the_same_dir_is_refused_while_the_first_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path(), 1 << 20).unwrap();
        let second = SledStore::open(dir.path(), 1 << 20);
        assert!(matches!(second, Err(OpenError::Locked { .. })));
    }

    #[test]
    fn a_store_of_another_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStore::open(dir.path(), 1 << 20).unwrap());
        fs::write(dir.path().join(FORMAT_FILE), "99\n").unwrap();
        let err = SledStore::open(dir.path(), 1 << 20).err().unwrap();
        assert!(err.to_string().contains("format 99"), "{err}");
    }

    #[test]
    fn concurrent_writers_all_return_and_all_their_writes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path(), 1 << 20).unwrap());
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for j in 0..10 {
                        let p = provider(&format!("p-{i}-{j}"));
                        store.create(&p).unwrap().unwrap().wait_blocking().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.list(None, 1000).unwrap().items.len(), 320);
        assert_eq!(store.engine().unwrap().index.len(), 320);
    }

    #[test]
    fn delete_removes_the_record_and_its_index_entry_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let p = provider("gone");
        store.create(&p).unwrap().unwrap().wait_blocking().unwrap();
        store
            .delete(p.id, None, false)
            .unwrap()
            .unwrap()
            .wait_blocking()
            .unwrap();
        assert!(store.get(p.id).unwrap().is_none());
        assert!(store.engine().unwrap().index.is_empty());
        assert!(matches!(
            store.delete(p.id, None, false).unwrap(),
            Err(Rejection::NotFound)
        ));
    }
}
