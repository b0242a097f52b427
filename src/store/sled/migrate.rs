//! Bringing a data dir written by an earlier store format up to this one, at start, before
//! anything reads it. postcard is not self-describing, so a record of an older shape cannot be
//! read as the new one: each format's shape is kept here, and its records are rewritten.
//!
//! A migration is one transaction over the records and the `meta` tree, which records the
//! format it reached; only after that is flushed is the `format-version` file moved on. A crash
//! in between leaves the old marker over migrated records, which the `meta` entry tells apart.

use serde::Deserialize;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use ulid::Ulid;

use super::codec::{decode, encode};
use super::engine::Engine;
use super::files::FORMAT_VERSION;
use crate::domain::settings::Settings;
use crate::domain::{ApiSurface, Model, Provider, ProviderSlug};
use crate::store::StoreError;

const FORMAT_KEY: &[u8] = b"format-version";

/// A provider as format 1 stored it: before its settings.
#[derive(Deserialize)]
struct ProviderV1 {
    id: Ulid,
    provider_id: ProviderSlug,
    name: String,
    base_url: String,
    metadata: Option<String>,
    surfaces: Vec<ApiSurface>,
    models: Vec<Model>,
    created_at_ms: u64,
    updated_at_ms: u64,
    created_by: String,
    last_updated_by: String,
    version: u64,
}

impl From<ProviderV1> for Provider {
    fn from(p: ProviderV1) -> Provider {
        // Not a change of the provider: its version and ETag stay.
        Provider {
            id: p.id,
            provider_id: p.provider_id,
            name: p.name,
            base_url: p.base_url,
            metadata: p.metadata,
            surfaces: p.surfaces,
            models: p.models,
            created_at_ms: p.created_at_ms,
            updated_at_ms: p.updated_at_ms,
            created_by: p.created_by,
            last_updated_by: p.last_updated_by,
            version: p.version,
            settings: Settings::default(),
        }
    }
}

/// Migrates `engine`'s records from format `found` to [`FORMAT_VERSION`], durably; answers how
/// many records it rewrote (0 when an interrupted migration had already written them).
pub(super) fn migrate(engine: &Engine, found: u32) -> Result<usize, StoreError> {
    if reached(engine)? == Some(FORMAT_VERSION) {
        return Ok(0);
    }
    debug_assert_eq!(found, 1, "format 1 is the only earlier one");
    let mut rewritten = Vec::new();
    for entry in engine.records.iter() {
        let (key, bytes) = entry?;
        let old: ProviderV1 = decode(&key, &bytes)?;
        rewritten.push((key, encode(&Provider::from(old))?));
    }
    let result = (&engine.records, &engine.meta).transaction(|(records, meta)| {
        for (key, bytes) in &rewritten {
            records.insert(key, bytes.as_slice())?;
        }
        meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
        Ok::<_, ConflictableTransactionError<()>>(())
    });
    result.map_err(|e| StoreError::Engine(format!("migrating the store: {e:?}").into()))?;
    engine.commits.sync()?;
    Ok(rewritten.len())
}

/// The format a migration recorded inside the database, if any did.
fn reached(engine: &Engine) -> Result<Option<u32>, StoreError> {
    Ok(engine
        .meta
        .get(FORMAT_KEY)?
        .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
        .map(u32::from_be_bytes))
}
