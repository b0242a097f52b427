//! The embedded store: sled trees of postcard records (see `codec`), written in transactions
//! over every tree a change touches, made durable by a group-committed flush (`commit`).
//! Writes run on the blocking pool from here, so callers only await.

mod access_keys;
mod api_keys;
mod base_urls;
mod by_id;
mod catalog_models;
mod codec;
mod commit;
mod configurations;
mod engine;
mod extensions;
mod files;
mod gateway_config;
mod health;
mod key_routing;
mod keys;
mod migrate;
mod model_aliases;
mod prices;
mod providers;
mod rewrite;
mod routers;
pub mod usage;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub use files::FORMAT_VERSION;

use engine::{Applied, Engine};
use files::{FORMAT_FILE, check_format_marker, lock_data_dir, write_marker};

use super::{Pending, Store, StoreError, Write, WriteObserver};

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
    #[error("cannot count the providers' base URLs in the store in {path}: {source}")]
    BaseUrls { path: PathBuf, source: StoreError },
    #[error("cannot migrate the store in {path} from format {found} to {FORMAT_VERSION}: {source}")]
    Migrate {
        path: PathBuf,
        found: u32,
        source: StoreError,
    },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> StoreError {
        match e {
            sled::Error::Io(io) => StoreError::Io(io),
            other => StoreError::Engine(Box::new(other)),
        }
    }
}

/// A handle on the store; clones share it.
#[derive(Clone)]
pub struct SledStore(Arc<Inner>);

struct Inner {
    /// The open engine; `None` only between dropping a failed engine and opening its
    /// successor. Swapped whole when the store reopens after an I/O error.
    engine: RwLock<Option<Arc<Engine>>>,
    /// Where the store lives, for reopening and for the free-space check before each write.
    dir: PathBuf,
    cache_capacity_bytes: u64,
    /// Writes are refused while the data dir's file system has less than this free.
    reserve_bytes: u64,
    /// Told of each write's latency and each group commit's size (metrics).
    observer: Option<Arc<dyn WriteObserver>>,
    /// Held for the life of the store so a second process cannot open the same data dir.
    _lock: std::fs::File,
}

impl SledStore {
    pub fn open(dir: &Path, cache_capacity_bytes: u64) -> Result<SledStore, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::NotWritable {
            path: dir.to_owned(),
            source,
        })?;
        let lock = lock_data_dir(dir)?;
        let older = check_format_marker(dir)?;
        rewrite::recover(dir).map_err(|source| OpenError::NotWritable {
            path: dir.to_owned(),
            source,
        })?;
        let engine =
            Engine::open(dir, cache_capacity_bytes).map_err(|source| OpenError::Engine {
                path: dir.to_owned(),
                source,
            })?;
        if let Some(found) = older {
            let rewritten =
                migrate::migrate(&engine, found).map_err(|source| OpenError::Migrate {
                    path: dir.to_owned(),
                    found,
                    source,
                })?;
            write_marker(dir)?;
            log::info!(
                "migrated the store in {} from format {found} to {FORMAT_VERSION} ({rewritten} \
                 provider records rewritten)",
                dir.display()
            );
        }
        base_urls::count_once(&engine).map_err(|source| OpenError::BaseUrls {
            path: dir.to_owned(),
            source,
        })?;
        Ok(SledStore(Arc::new(Inner {
            engine: RwLock::new(Some(Arc::new(engine))),
            dir: dir.to_owned(),
            cache_capacity_bytes,
            reserve_bytes: 0,
            observer: None,
            _lock: lock,
        })))
    }

    /// Refuse writes while fewer than `bytes` are free. sled 0.34 poisons itself on its first
    /// failed write (ENOSPC included) and cannot open on a full disk, so a full disk is best
    /// never met: with a reserve, writes stop cleanly before it and resume when space returns.
    /// Set before the handle is shared.
    pub fn with_free_space_reserve(mut self, bytes: u64) -> SledStore {
        Arc::get_mut(&mut self.0)
            .expect("the reserve is set before the store is shared")
            .reserve_bytes = bytes;
        self
    }

    /// Tells `observer` how long each write takes to be durable and how many writes each
    /// group commit makes durable. Set before the handle is shared.
    pub fn with_write_observer(mut self, observer: Arc<dyn WriteObserver>) -> SledStore {
        if let Ok(engine) = self.0.engine() {
            engine.commits.observe(Arc::clone(&observer));
        }
        Arc::get_mut(&mut self.0)
            .expect("the observer is set before the store is shared")
            .observer = Some(observer);
        self
    }

    /// Runs `work` on the blocking pool: sled's transactions and flushes block.
    fn blocking<T, F>(&self, work: F) -> Pending<T>
    where
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(&inner))
                .await
                .map_err(|e| StoreError::Blocking(Box::new(e)))?
        })
    }

    /// A write transaction, run on the blocking pool against a writable engine.
    fn write<T, F>(&self, work: F) -> Write<T>
    where
        F: FnOnce(&Engine) -> Applied<T> + Send + 'static,
        T: Send + 'static,
    {
        let started = std::time::Instant::now();
        let observer = self.0.observer.clone();
        let applied = self.blocking(move |inner| work(&*inner.writer()?));
        match observer {
            None => applied,
            Some(observer) => Box::pin(async move {
                Ok(applied
                    .await?
                    .map(|durable| durable.timed(started, &observer)))
            }),
        }
    }

    fn engine(&self) -> Result<Arc<Engine>, StoreError> {
        self.0.engine()
    }
}

impl Inner {
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
                if let Some(observer) = &self.observer {
                    engine.commits.observe(Arc::clone(observer));
                }
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
    let stat = nix::sys::statvfs::statvfs(dir).map_err(|e| StoreError::Stat(e.into()))?;
    if stat.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err(StoreError::ReadOnly);
    }
    Ok(stat.blocks_available() as u64 * stat.fragment_size() as u64)
}

impl Store for SledStore {
    fn ping(&self) -> Pending<()> {
        self.blocking(|inner| {
            inner.engine()?.records.first()?;
            inner.writer().map(drop)
        })
    }

    fn flush(&self) -> Pending<()> {
        self.blocking(|inner| inner.engine()?.commits.sync())
    }
}

#[cfg(test)]
mod tests;
