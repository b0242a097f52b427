//! Bringing a data dir written by an earlier store format up to this one, at start, before
//! anything reads it. postcard is not self-describing, so a record of an older shape cannot be
//! read as the new one: each format's shape is kept here, and its records are rewritten.
//!
//! A migration is one transaction over the records and the `meta` tree, which records the
//! format it reached; only after that is flushed is the `format-version` file moved on. A crash
//! in between leaves the old marker over migrated records, which the `meta` entry tells apart.
//!
//! Format 3 seals credential headers, which needs the master key, and the master key is
//! checked against the store only after it opened: this migration keeps them as plain values,
//! and start-up seals them (`master_key::load`) before anything serves.
//!
//! Format 4 only added trees (the engine opens them, empty): format 3's records are format 4's.
//! Format 5 gives each access key the configuration that scopes it: format 4's keys are
//! rewritten as allow-all, which is what they were.

use std::collections::BTreeMap;

use serde::Deserialize;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;
use ulid::Ulid;

use super::codec::{decode, encode};
use super::engine::Engine;
use super::files::FORMAT_VERSION;
use super::rewrite::PLAINTEXT_PENDING;
use crate::domain::settings::{HeaderValue, Network, Proxy, Settings};
use crate::domain::{AccessKey, ApiSurface, Model, PreviousToken, Provider, ProviderSlug};
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

/// A provider as format 2 stored it: its extra headers' values all in the clear.
#[derive(Deserialize)]
struct ProviderV2 {
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
    settings: SettingsV2,
}

#[derive(Deserialize)]
struct SettingsV2 {
    network: Option<NetworkV2>,
    proxy: Option<Proxy>,
    concurrency: Option<u32>,
    buffer_size: Option<u32>,
    keyless: Option<bool>,
    path_overrides: BTreeMap<String, String>,
    allow_private_network: Option<bool>,
}

#[derive(Deserialize)]
struct NetworkV2 {
    request_timeout_secs: Option<u32>,
    stream_idle_timeout_secs: Option<u32>,
    max_retries: Option<u32>,
    retry_backoff_initial_ms: Option<u32>,
    retry_backoff_max_ms: Option<u32>,
    extra_headers: BTreeMap<String, String>,
    ca_cert_pem: Option<String>,
    insecure_skip_verify: Option<bool>,
}

impl From<ProviderV2> for Provider {
    fn from(p: ProviderV2) -> Provider {
        let s = p.settings;
        let network = s.network.map(|n| Network {
            request_timeout_secs: n.request_timeout_secs,
            stream_idle_timeout_secs: n.stream_idle_timeout_secs,
            max_retries: n.max_retries,
            retry_backoff_initial_ms: n.retry_backoff_initial_ms,
            retry_backoff_max_ms: n.retry_backoff_max_ms,
            extra_headers: n
                .extra_headers
                .into_iter()
                .map(|(name, value)| (name, HeaderValue::Plain(value)))
                .collect(),
            ca_cert_pem: n.ca_cert_pem,
            insecure_skip_verify: n.insecure_skip_verify,
        });
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
            settings: Settings {
                network,
                proxy: s.proxy,
                concurrency: s.concurrency,
                buffer_size: s.buffer_size,
                keyless: s.keyless,
                path_overrides: s.path_overrides,
                allow_private_network: s.allow_private_network,
            },
        }
    }
}

/// An access key as format 4 stored it: before configurations scoped it.
#[derive(Deserialize)]
struct AccessKeyV4 {
    id: Ulid,
    name: Option<String>,
    description: Option<String>,
    metadata: Option<String>,
    digest: [u8; 32],
    key_redacted: String,
    expires_at_ms: Option<u64>,
    disabled: Option<bool>,
    requests_per_minute: Option<u32>,
    created_at_ms: u64,
    updated_at_ms: u64,
    created_by: String,
    last_updated_by: String,
    last_used_ms: Option<u64>,
    version: u64,
    previous: Option<PreviousToken>,
}

impl From<AccessKeyV4> for AccessKey {
    fn from(k: AccessKeyV4) -> AccessKey {
        AccessKey {
            id: k.id,
            name: k.name,
            description: k.description,
            metadata: k.metadata,
            digest: k.digest,
            key_redacted: k.key_redacted,
            expires_at_ms: k.expires_at_ms,
            disabled: k.disabled,
            requests_per_minute: k.requests_per_minute,
            created_at_ms: k.created_at_ms,
            updated_at_ms: k.updated_at_ms,
            created_by: k.created_by,
            last_updated_by: k.last_updated_by,
            last_used_ms: k.last_used_ms,
            version: k.version,
            previous: k.previous,
            configuration: None,
            budget: None,
            tokens_per_minute: None,
        }
    }
}

/// Migrates `engine`'s records from format `found` to [`FORMAT_VERSION`], durably; answers how
/// many records it rewrote (0 when an interrupted migration had already written them).
pub(super) fn migrate(engine: &Engine, found: u32) -> Result<usize, StoreError> {
    let reached = reached(engine)?;
    if reached == Some(FORMAT_VERSION) {
        return Ok(0);
    }
    // An earlier release's migration can have committed inside the database and been cut off
    // before the marker file moved on: the records are as far as the database says.
    let found = reached.map_or(found, |r| r.max(found));
    let mut rewritten = Vec::new();
    for entry in engine.records.iter().filter(|_| found < 3) {
        let (key, bytes) = entry?;
        let provider = match found {
            1 => Provider::from(decode::<ProviderV1>(&key, &bytes)?),
            _ => Provider::from(decode::<ProviderV2>(&key, &bytes)?),
        };
        rewritten.push((key, encode(&provider)?));
    }
    // Formats before 4 had no access keys: their tree is empty.
    let mut access_keys = Vec::new();
    for entry in engine.access_keys.iter().filter(|_| found == 4) {
        let (key, bytes) = entry?;
        let access_key = AccessKey::from(decode::<AccessKeyV4>(&key, &bytes)?);
        access_keys.push((key, encode(&access_key)?));
    }
    let trees = (&engine.records, &engine.meta, &engine.access_keys);
    let result = trees.transaction(|(records, meta, access_key_tree)| {
        for (key, bytes) in &rewritten {
            records.insert(key, bytes.as_slice())?;
        }
        for (key, bytes) in &access_keys {
            access_key_tree.insert(key, bytes.as_slice())?;
        }
        meta.insert(FORMAT_KEY, &FORMAT_VERSION.to_be_bytes())?;
        if found == 2 {
            // Its extra headers are in the clear, here and in the files' older values.
            meta.insert(PLAINTEXT_PENDING, &[])?;
        }
        Ok::<_, ConflictableTransactionError<()>>(())
    });
    result.map_err(|e| StoreError::Engine(format!("migrating the store: {e:?}").into()))?;
    engine.commits.sync()?;
    Ok(rewritten.len() + access_keys.len())
}

/// The format a migration recorded inside the database, if any did.
fn reached(engine: &Engine) -> Result<Option<u32>, StoreError> {
    Ok(engine
        .meta
        .get(FORMAT_KEY)?
        .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
        .map(u32::from_be_bytes))
}
