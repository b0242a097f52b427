//! The embedded store: one sled tree of records (16-byte big-endian ULID → JSON record) and one
//! index tree (`providerId` → record key). Every write is one transaction over the trees it
//! touches, then waits for a group-committed flush before it is reported done.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use ulid::Ulid;

use super::{Outcome, Page, ProviderStore, Rejection, StoreError, UpdateFn};
use crate::domain::{Precondition, Provider};

/// Bumped whenever the on-disk layout changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_FILE: &str = "format-version";
const LOCK_FILE: &str = "modelgate.lock";
const DB_DIR: &str = "db";
const RECORDS_TREE: &str = "providers";
const INDEX_TREE: &str = "providers_by_provider_id";

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
    records: sled::Tree,
    index: sled::Tree,
    commits: GroupCommit,
    /// Held for the life of the store so a second process cannot open the same data dir.
    _lock: File,
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
        let engine = |source| OpenError::Engine {
            path: dir.to_owned(),
            source,
        };
        let db = sled::Config::new()
            .path(dir.join(DB_DIR))
            .cache_capacity(cache_capacity_bytes)
            .open()
            .map_err(engine)?;
        Ok(SledStore {
            records: db.open_tree(RECORDS_TREE).map_err(engine)?,
            index: db.open_tree(INDEX_TREE).map_err(engine)?,
            commits: GroupCommit::new(db),
            _lock: lock,
        })
    }

    /// Turns a transaction's result into an [`Outcome`], waiting for durability when it wrote.
    fn settle<T>(&self, result: Result<(T, bool), TransactionError<Abort>>) -> Outcome<T> {
        match result {
            Ok((value, wrote)) => {
                if wrote {
                    self.commits.sync()?;
                }
                Ok(Ok(value))
            }
            Err(TransactionError::Abort(Abort::Rejected(r))) => Ok(Err(r)),
            Err(TransactionError::Abort(Abort::Failed(e))) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }
}

/// Why a transaction stopped early.
enum Abort {
    Rejected(Rejection),
    Failed(StoreError),
}

fn reject<T>(r: Rejection) -> Result<T, ConflictableTransactionError<Abort>> {
    Err(ConflictableTransactionError::Abort(Abort::Rejected(r)))
}

fn decode(key: &[u8], bytes: &[u8]) -> Result<Provider, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt {
        key: <[u8; 16]>::try_from(key)
            .map_or_else(|_| hex::encode(key), |k| Ulid::from_bytes(k).to_string()),
        source,
    })
}

impl ProviderStore for SledStore {
    fn create(&self, provider: &Provider) -> Outcome<()> {
        let key = provider.id.to_bytes();
        let value = serde_json::to_vec(provider).map_err(StoreError::Encode)?;
        let slug = provider.provider_id.as_str().as_bytes();
        let result = (&self.records, &self.index).transaction(|(records, index)| {
            if index.get(slug)?.is_some() {
                return reject(Rejection::ProviderIdTaken);
            }
            index.insert(slug, &key[..])?;
            records.insert(&key[..], value.as_slice())?;
            Ok(((), true))
        });
        self.settle(result)
    }

    fn get(&self, id: Ulid) -> Result<Option<Provider>, StoreError> {
        let key = id.to_bytes();
        self.records
            .get(key)?
            .map(|bytes| decode(&key, &bytes))
            .transpose()
    }

    fn list(&self, before: Option<Ulid>, limit: usize) -> Result<Page, StoreError> {
        let entries = match before {
            Some(before) => self.records.range(..before.to_bytes()),
            None => self.records.iter(),
        };
        // One entry past the page tells whether another page exists without counting the rest.
        let mut items = Vec::with_capacity(limit);
        let mut has_more = false;
        for entry in entries.rev() {
            let (key, bytes) = entry?;
            if items.len() == limit {
                has_more = true;
                break;
            }
            items.push(decode(&key, &bytes)?);
        }
        Ok(Page { items, has_more })
    }

    fn update(&self, id: Ulid, change: &UpdateFn<'_>) -> Outcome<Provider> {
        let key = id.to_bytes();
        let result = self.records.transaction(|records| {
            let Some(bytes) = records.get(key)? else {
                return reject(Rejection::NotFound);
            };
            let current = decode(&key, &bytes)
                .map_err(|e| ConflictableTransactionError::Abort(Abort::Failed(e)))?;
            match change(&current) {
                Err(r) => reject(r),
                Ok(None) => Ok((current, false)),
                Ok(Some(next)) => {
                    let value = serde_json::to_vec(&next).map_err(|e| {
                        ConflictableTransactionError::Abort(Abort::Failed(StoreError::Encode(e)))
                    })?;
                    records.insert(&key[..], value)?;
                    Ok((next, true))
                }
            }
        });
        self.settle(result)
    }

    fn delete(&self, id: Ulid, precondition: Option<&Precondition>) -> Outcome<()> {
        let key = id.to_bytes();
        let result = (&self.records, &self.index).transaction(|(records, index)| {
            let Some(bytes) = records.get(key)? else {
                return reject(Rejection::NotFound);
            };
            let current = decode(&key, &bytes)
                .map_err(|e| ConflictableTransactionError::Abort(Abort::Failed(e)))?;
            if precondition.is_some_and(|p| !p.allows(&current)) {
                return reject(Rejection::PreconditionFailed);
            }
            records.remove(&key[..])?;
            index.remove(current.provider_id.as_str().as_bytes())?;
            Ok(((), true))
        });
        self.settle(result)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.records.first()?;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.commits.sync()
    }
}

/// Shares one `flush()` among every writer waiting for one. A writer joins the next flush
/// round; the first writer to find no flush running leads the round and flushes for all who
/// joined it. A round starts only after all its members wrote, so its flush covers them.
///
/// `Db::flush_async` is deliberately not used: concurrent calls deadlock in sled 0.34
/// (spacejam/sled#1308).
struct GroupCommit {
    db: sled::Db,
    state: Mutex<Rounds>,
    finished: Condvar,
}

struct Rounds {
    /// The round new writers join; it has not started flushing.
    next: Arc<OnceLock<Result<(), String>>>,
    flushing: bool,
}

impl GroupCommit {
    fn new(db: sled::Db) -> GroupCommit {
        GroupCommit {
            db,
            state: Mutex::new(Rounds {
                next: Arc::default(),
                flushing: false,
            }),
            finished: Condvar::new(),
        }
    }

    fn sync(&self) -> Result<(), StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let round = Arc::clone(&state.next);
        loop {
            if let Some(result) = round.get() {
                return result.clone().map_err(StoreError::Flush);
            }
            if !state.flushing {
                // Our round has not run and nobody is flushing: lead it.
                state.flushing = true;
                state.next = Arc::default();
                drop(state);
                let result = self.db.flush().map(drop).map_err(|e| e.to_string());
                let _ = round.set(result.clone());
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                state.flushing = false;
                drop(state);
                self.finished.notify_all();
                return result.map_err(StoreError::Flush);
            }
            state = self.finished.wait(state).unwrap_or_else(|e| e.into_inner());
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
                        store.create(&p).unwrap().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.list(None, 1000).unwrap().items.len(), 320);
        assert_eq!(store.index.len(), 320);
    }

    #[test]
    fn delete_removes_the_record_and_its_index_entry_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let p = provider("gone");
        store.create(&p).unwrap().unwrap();
        store.delete(p.id, None).unwrap().unwrap();
        assert!(store.get(p.id).unwrap().is_none());
        assert!(store.index.is_empty());
        assert_eq!(store.delete(p.id, None).unwrap(), Err(Rejection::NotFound));
    }
}
