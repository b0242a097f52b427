//! The registry: the one writer of providers, their keys, the management API keys, the access
//! keys, the model aliases and the gateway's settings. Each write goes the same way — parse the input into trusted
//! values, run the store transaction, wait until it is durable, then apply it to the in-memory
//! view it changes (the data plane's routing table, the live credentials) — so each view learns
//! of every change in one place, before the change is acknowledged. Reads go to the store
//! directly.

mod access_keys;
mod api_keys;
mod configurations;
mod discovery;
mod extended;
mod gateway_config;
mod keys;
mod model_aliases;
mod prices;
mod providers;

use std::sync::Arc;

use access_keys::{access_credential_of, previous_credential_of};
use api_keys::credential_of;
pub use extended::ExtensionChange;

use crate::auth::Credentials;
use crate::domain::{InputError, Precondition};
use crate::gateway::table::RoutingTable;
use crate::secrets::{CryptoError, MasterKey};
use crate::store::{Rejection, Store, StoreError, Write};

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the input breaks a rule: {0:?}")]
    Invalid(InputError),
    #[error("refused: {0:?}")]
    Rejected(Rejection),
    /// A caller's check of the record before it is written (a provider's probe) said no;
    /// what it found, as field → text.
    #[error("refused by its check: {0:?}")]
    Refused(std::collections::BTreeMap<String, String>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl From<InputError> for WriteError {
    fn from(e: InputError) -> WriteError {
        WriteError::Invalid(e)
    }
}

pub struct Registry {
    store: Arc<dyn Store>,
    master_key: Arc<MasterKey>,
    /// What the data plane routes by; every durable change is applied to it before the
    /// change is acknowledged.
    table: Arc<RoutingTable>,
    /// Who may call; every durable API key write is applied to it before it is acknowledged.
    credentials: Arc<Credentials>,
    /// Credential writes take turns from their transaction to their publishing, so a write
    /// that lands first can never be published last (a PATCH re-enabling a key a DELETE
    /// removed): the live credentials, unlike the routing table, keep no versions to tell.
    /// They are rare, so waiting a group commit each costs nothing that matters. Model alias
    /// writes take them too, to be checked against every alias written before them.
    turns: Arc<tokio::sync::Mutex<()>>,
}

impl Registry {
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        table: Arc<RoutingTable>,
        credentials: Arc<Credentials>,
    ) -> Registry {
        Registry {
            store,
            master_key,
            table,
            credentials,
            turns: Arc::default(),
        }
    }

    /// The turn of a write that publishes into the live credentials.
    async fn turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        Arc::clone(&self.turns).lock_owned().await
    }

    /// The credentials requests are authenticated against.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// For reads, and for what is not a registry write (health, the final flush).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// A store write carried to its end: applied, durable, then published into the routing
    /// table by `publish`. After an I/O failure the table is read anew:
    /// the store may reopen, holding what reached its disk, which can include a write that was
    /// reported failed.
    async fn commit<T>(
        &self,
        write: Write<T>,
        publish: impl FnOnce(&T, &RoutingTable),
    ) -> Result<T, WriteError> {
        let outcome = async {
            let applied = write.await?.map_err(WriteError::Rejected)?;
            Ok::<T, WriteError>(applied.wait().await?)
        }
        .await;
        match outcome {
            Ok(value) => {
                publish(&value, &self.table);
                Ok(value)
            }
            Err(WriteError::Store(e)) => {
                if may_have_reopened(&e) {
                    self.reload_table();
                }
                Err(WriteError::Store(e))
            }
            Err(other) => Err(other),
        }
    }
}

/// A new token for a stored credential, with what the record keeps of it.
struct Minted {
    token: zeroize::Zeroizing<String>,
    digest: crate::auth::Digest,
    redacted: String,
}

fn mint(prefix: &str) -> Result<Minted, WriteError> {
    let token = crate::auth::new_token(prefix).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(Minted {
        digest: crate::auth::digest(&token),
        redacted: crate::domain::redact_token(&token),
        token,
    })
}

impl Registry {
    /// Reads the whole routing table and the stored credentials anew, off the caller's
    /// thread: with a large registry it takes a while, and it is only needed after a rare
    /// failure.
    fn reload_table(&self) {
        let (table, store) = (Arc::clone(&self.table), Arc::clone(&self.store));
        let credentials = Arc::clone(&self.credentials);
        let turns = Arc::clone(&self.turns);
        tokio::spawn(async move {
            // Taken after the failing write's own turn ends, and before any later write's:
            // what is read here is never older than what is published after it.
            let _turn = turns.lock_owned().await;
            let reloaded = tokio::task::spawn_blocking(move || {
                if let Err(e) = table.reload(store.as_ref()) {
                    log::warn!("routing table not reloaded after a store failure: {e}");
                }
                stored_credentials(store.as_ref())
            })
            .await;
            match reloaded {
                Ok(Ok(all)) => credentials.replace_stored(all),
                Ok(Err(e)) => log::warn!("credentials not reloaded after a store failure: {e}"),
                Err(e) => log::warn!("credentials not reloaded after a store failure: {e}"),
            }
        });
    }
}

/// Every stored credential as authentication knows it: the management API keys, and the
/// enabled access keys with a rotated-out token still in its grace.
pub fn stored_credentials(
    store: &dyn Store,
) -> Result<Vec<(crate::auth::Digest, crate::auth::StoredCredential)>, StoreError> {
    let mut all: Vec<_> = store
        .all_api_keys()?
        .iter()
        .map(|key| (key.digest, credential_of(key)))
        .collect();
    for key in store.all_access_keys()?.iter().filter(|k| k.enabled()) {
        all.push((key.digest, access_credential_of(key)));
        if let Some(previous) = &key.previous {
            all.push((previous.digest, previous_credential_of(key, previous)));
        }
    }
    Ok(all)
}

/// Whether the store may come back with other contents than its last acknowledged state: an
/// I/O error reached the engine. A refusal before writing (a full or read-only disk), or a
/// flusher stopped by shutdown, changes nothing.
fn may_have_reopened(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Io(_) | StoreError::Flush(_) | StoreError::Failed
    )
}

/// Inside a write transaction: refuses the write when `If-Match` names another version.
fn guard(precondition: Option<&Precondition>, etag: &str) -> Result<(), Rejection> {
    match precondition {
        Some(p) if !p.allows(etag) => Err(Rejection::PreconditionFailed),
        _ => Ok(()),
    }
}
