//! One opened sled database, its trees, and how a transaction's result becomes a [`Write`]'s.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use ulid::Ulid;

use super::codec::{count_of, decode, encode, key_id_from_index, key_index_entry, provider_prefix};
use super::commit::GroupCommit;
use super::files::DB_DIR;
use crate::domain::ProviderKey;
use crate::store::{Durable, Rejection, StoreError, UpdateFn};

const RECORDS_TREE: &str = "providers";
const INDEX_TREE: &str = "providers_by_provider_id";
const KEYS_TREE: &str = "provider_keys";
const KEYS_BY_PROVIDER_TREE: &str = "provider_keys_by_provider_id";
const KEY_COUNTS_TREE: &str = "provider_key_counts";
const META_TREE: &str = "meta";
/// Since store format 4.
const API_KEYS_TREE: &str = "api_keys";
const ACCESS_KEYS_TREE: &str = "access_keys";
/// Since store format 5; a store without them reads as having none.
const CONFIGURATIONS_TREE: &str = "access_key_configurations";
const KEYS_BY_CONFIGURATION_TREE: &str = "access_keys_by_configuration";
const CONFIGURATION_USES_TREE: &str = "access_key_configuration_uses";
/// Since routers; empty in a store written before them, which is right: no rule named a key.
const KEY_RULES_TREE: &str = "provider_key_rules";
/// Since model aliases; a store without it reads as having none.
const MODEL_ALIASES_TREE: &str = "model_aliases";
/// Since model prices; a store without it reads as having none.
const PRICES_TREE: &str = "prices";
/// Since model discovery; a store without it reads as no catalog provider discovered.
const CATALOG_MODELS_TREE: &str = "catalog_models";
/// Since provider health; a store without it reads as having no checks.
const HEALTH_TREE: &str = "provider_health";
/// Since the dialects; a store without it reads as no provider having an extension.
const EXTENSIONS_TREE: &str = "provider_extensions";
/// Since AgentStack's unique `base_url`; counted at open in a store without it.
const BASE_URLS_TREE: &str = "provider_base_urls";
/// Since Bifrost's key `weight` and `models`; a store without it reads as no key having them.
const KEY_ROUTING_TREE: &str = "provider_key_routing";

pub(super) struct Engine {
    pub(super) records: sled::Tree,
    pub(super) index: sled::Tree,
    pub(super) keys: sled::Tree,
    /// `providerId` 0x00 key-id → (): a provider's keys in id order.
    pub(super) keys_by_provider: sled::Tree,
    /// `providerId` → number of keys (u64 BE): sled transactions cannot scan, so a provider
    /// delete learns whether keys exist from this counter, inside its transaction.
    pub(super) key_counts: sled::Tree,
    pub(super) meta: sled::Tree,
    /// Management API keys by id.
    pub(super) api_keys: sled::Tree,
    /// Data-plane access keys by id.
    pub(super) access_keys: sled::Tree,
    /// Access key configurations by id.
    pub(super) configurations: sled::Tree,
    /// configuration-id key-id → (): the access keys a configuration scopes.
    pub(super) keys_by_configuration: sled::Tree,
    /// configuration-id → number of access keys it scopes (u64 BE), for the transaction of
    /// a delete, which cannot scan.
    pub(super) configuration_uses: sled::Tree,
    /// provider-key-id → the ids (16 bytes each, ascending) of the configurations whose
    /// router names the key, for the transaction of a key's delete, which cannot scan.
    pub(super) key_rules: sled::Tree,
    /// Model aliases by id.
    pub(super) model_aliases: sled::Tree,
    /// Model prices by id.
    pub(super) prices: sled::Tree,
    /// catalog id → its discovered models (`domain::discovery::CatalogModels`).
    pub(super) catalog_models: sled::Tree,
    /// provider-id → its health checks, newest first (`domain::health`).
    pub(super) health: sled::Tree,
    /// provider-id → its dialects' extension (`domain::extension`), JSON.
    pub(super) extensions: sled::Tree,
    /// base URL → how many providers have it (u64 BE), for a create's check inside its
    /// transaction (`base_urls`).
    pub(super) base_urls: sled::Tree,
    /// key id → a provider key's `KeyRouting` as JSON, only for a key that has any
    /// (`key_routing`).
    pub(super) key_routing: sled::Tree,
    /// For what needs every tree (`rewrite`).
    pub(super) db: sled::Db,
    pub(super) commits: GroupCommit,
}

/// A transaction's outcome before it is durable: refused, or applied (and whether it wrote).
pub(super) type Applied<T> = Result<Result<Durable<T>, Rejection>, StoreError>;

/// Why a transaction stopped early.
pub(super) enum Abort {
    Rejected(Rejection),
    Failed(StoreError),
    /// What was read before the transaction changed under it: read again and retry.
    Retry,
}

pub(super) type TxResult<T> = Result<T, ConflictableTransactionError<Abort>>;

/// Inserts a provider key with its entry in its provider's index and its provider's count, in
/// the caller's transaction (a key created alone, or by a router step); the caller has checked
/// that its provider may hold it.
pub(super) fn insert_key(
    keys: &TransactionalTree,
    keys_by_provider: &TransactionalTree,
    key_counts: &TransactionalTree,
    key: &ProviderKey,
) -> TxResult<()> {
    let slug = key.provider_id.as_str();
    let id = key.id.to_bytes();
    let count = count_of(key_counts.get(slug.as_bytes())?);
    keys.insert(&id[..], encode(key).map_err(failed)?.as_slice())?;
    keys_by_provider.insert(key_index_entry(slug, &id), &[][..])?;
    key_counts.insert(slug.as_bytes(), &(count + 1).to_be_bytes()[..])?;
    Ok(())
}

pub(super) fn reject<T>(r: Rejection) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(Abort::Rejected(r)))
}

pub(super) fn failed(e: StoreError) -> ConflictableTransactionError<Abort> {
    ConflictableTransactionError::Abort(Abort::Failed(e))
}

impl Engine {
    pub(super) fn open(dir: &Path, cache_capacity_bytes: u64) -> Result<Engine, sled::Error> {
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
            api_keys: db.open_tree(API_KEYS_TREE)?,
            access_keys: db.open_tree(ACCESS_KEYS_TREE)?,
            configurations: db.open_tree(CONFIGURATIONS_TREE)?,
            keys_by_configuration: db.open_tree(KEYS_BY_CONFIGURATION_TREE)?,
            configuration_uses: db.open_tree(CONFIGURATION_USES_TREE)?,
            key_rules: db.open_tree(KEY_RULES_TREE)?,
            model_aliases: db.open_tree(MODEL_ALIASES_TREE)?,
            prices: db.open_tree(PRICES_TREE)?,
            catalog_models: db.open_tree(CATALOG_MODELS_TREE)?,
            health: db.open_tree(HEALTH_TREE)?,
            extensions: db.open_tree(EXTENSIONS_TREE)?,
            base_urls: db.open_tree(BASE_URLS_TREE)?,
            key_routing: db.open_tree(KEY_ROUTING_TREE)?,
            commits: GroupCommit::new(db.clone()),
            db,
        })
    }

    /// Whether a write or flush of this engine met an I/O error. sled 0.34 then refuses every
    /// later write for the life of the `Db`; only a new `Db` on the same files recovers.
    pub(super) fn failed(&self) -> bool {
        self.commits.failed()
    }

    /// Turns a transaction's result into one that, when it wrote, becomes durable with the
    /// next group flush.
    pub(super) fn settle<T>(
        &self,
        result: Result<(T, bool), TransactionError<Abort>>,
    ) -> Applied<T> {
        match result {
            Ok((value, wrote)) => {
                let flush = wrote.then(|| self.commits.after_write());
                Ok(Ok(Durable::new(value, flush)))
            }
            Err(TransactionError::Abort(Abort::Rejected(r))) => Ok(Err(r)),
            Err(TransactionError::Abort(Abort::Failed(e))) => Err(e),
            Err(TransactionError::Abort(Abort::Retry)) => Err(StoreError::Engine(
                "transaction retry escaped its loop".into(),
            )),
            Err(TransactionError::Storage(e)) => {
                self.commits.mark_failed();
                Err(e.into())
            }
        }
    }

    /// The ids of `slug`'s keys, read outside any transaction.
    pub(super) fn key_ids_of(&self, slug: &str) -> Result<Vec<[u8; 16]>, StoreError> {
        self.keys_by_provider
            .scan_prefix(provider_prefix(slug))
            .keys()
            .map(|k| Ok(key_id_from_index(&k?)))
            .collect()
    }

    /// Atomic read-modify-write of one record of `tree`.
    pub(super) fn update_in<T: Serialize + DeserializeOwned>(
        &self,
        tree: &sled::Tree,
        id: Ulid,
        change: &UpdateFn<T>,
    ) -> Applied<T> {
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
        self.settle(result)
    }
}
