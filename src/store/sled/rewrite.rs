//! Sealing what an earlier store format kept in the clear, and then rewriting the database into
//! fresh files: sled keeps replaced values in its log until it reuses the segment, so a sealed
//! record alone would leave the plaintext in the data dir.
//!
//! The migration marks the store (`PLAINTEXT_PENDING` in `meta`); the seal transaction keeps
//! the mark, and the copy leaves it out, so until the fresh files replace the old ones every
//! start tries again. The fresh files are written to `db.new`, renamed `db.ready` once
//! complete, and swapped in by renames (`db` → `db.old`, `db.ready` → `db`), each made
//! durable; [`recover`] finishes or undoes an interrupted rewrite before the engine opens.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::SledStore;
use super::codec::{decode, encode};
use super::engine::Engine;
use super::files::DB_DIR;
use crate::domain::Provider;
use crate::files::rename_durably;
use crate::secrets::CryptoError;
use crate::store::StoreError;

/// In `meta`: records may hold a secret in the clear, or did and the old files still do.
pub(super) const PLAINTEXT_PENDING: &[u8] = b"plaintext-pending";
const META_TREE: &[u8] = b"meta";
const NEW: &str = "db.new";
const READY: &str = "db.ready";
const OLD: &str = "db.old";

/// How a provider with a secret in the clear is sealed: `Ok(None)` leaves it.
pub type SealFn<'a> = &'a dyn Fn(&Provider) -> Result<Option<Provider>, CryptoError>;

impl SledStore {
    /// When the store is marked, seals every provider `seal` changes (one transaction), then
    /// rewrites the files; answers how many providers it sealed, or `None` when unmarked.
    pub(super) fn seal_and_rewrite(&self, seal: SealFn<'_>) -> Result<Option<usize>, StoreError> {
        let e = self.0.writer()?;
        if e.meta.get(PLAINTEXT_PENDING)?.is_none() {
            return Ok(None);
        }
        let mut sealed = Vec::new();
        for entry in e.records.iter() {
            let (id, bytes) = entry?;
            let provider: Provider = decode(&id, &bytes)?;
            let next = seal(&provider).map_err(|source| StoreError::Seal {
                id: provider.id,
                source,
            })?;
            if let Some(next) = next {
                sealed.push((id, encode(&next)?));
            }
        }
        for (id, bytes) in &sealed {
            // Start-up runs this alone, so no transaction is needed against other writers; a
            // crash midway leaves the mark, and the next start seals the rest.
            e.records.insert(id, bytes.as_slice())?;
        }
        e.commits.sync()?;
        drop(e);
        self.rewrite()?;
        Ok(Some(sealed.len()))
    }

    /// Copies the live values into fresh files and swaps them in for the old ones.
    fn rewrite(&self) -> Result<(), StoreError> {
        let inner = &self.0;
        let mut slot = inner.engine.write().unwrap_or_else(|e| e.into_inner());
        let engine = slot.take().ok_or(StoreError::Failed)?;
        let copied = copy(&engine, &inner.dir);
        if let Err(e) = copied {
            *slot = Some(engine);
            return Err(e);
        }
        // sled locks its files: the old `Db` must be gone before the swap and the reopen.
        match Arc::try_unwrap(engine) {
            Ok(engine) => drop(engine),
            Err(shared) => {
                *slot = Some(shared);
                return Err(StoreError::Engine(
                    "the store is in use; its files cannot be rewritten".into(),
                ));
            }
        }
        recover(&inner.dir).map_err(|e| StoreError::Engine(e.into()))?;
        let engine = Engine::open(&inner.dir, inner.cache_capacity_bytes)?;
        *slot = Some(Arc::new(engine));
        Ok(())
    }
}

/// Every tree's live values into `db.new`, without the mark, then renamed `db.ready`.
fn copy(engine: &Engine, dir: &Path) -> Result<(), StoreError> {
    let io = |e: io::Error| StoreError::Engine(e.into());
    let new = dir.join(NEW);
    if new.exists() {
        fs::remove_dir_all(&new).map_err(io)?;
    }
    let fresh = sled::Config::new().path(&new).open()?;
    for name in engine.db.tree_names() {
        let from = engine.db.open_tree(&name)?;
        let to = fresh.open_tree(&name)?;
        for entry in from.iter() {
            let (key, value) = entry?;
            if name == META_TREE && key == PLAINTEXT_PENDING {
                continue;
            }
            to.insert(key, value)?;
        }
    }
    fresh.flush()?;
    drop(fresh);
    rename_durably(&new, &dir.join(READY)).map_err(io)
}

/// Finishes a rewrite that stopped after its copy was complete, or drops one that stopped
/// before; a no-op when none was under way. Run before the engine opens.
pub(super) fn recover(dir: &Path) -> io::Result<()> {
    let remove = |name: &str| match fs::remove_dir_all(dir.join(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    remove(NEW)?;
    let (db, ready, old) = (dir.join(DB_DIR), dir.join(READY), dir.join(OLD));
    if ready.exists() {
        if db.exists() {
            remove(OLD)?;
            rename_durably(&db, &old)?;
        }
        rename_durably(&ready, &db)?;
    } else if old.exists() && !db.exists() {
        // No rewrite leaves this (`db` moves aside only once `db.ready` is complete), but
        // what else did must not cost the data.
        rename_durably(&old, &db)?;
    }
    remove(OLD)
}
