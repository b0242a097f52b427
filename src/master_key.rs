//! Where the master key comes from, checking it against the store, and rotating it.
//!
//! Sources, first found wins: `MODELGATE_MASTER_KEY` (base64), `auth.master_key_file`, else
//! `<data_dir>/master.key`, generated on first start. The store keeps a check value sealed
//! under the master key, so a wrong or lost key is a clear start-up error, never garbage.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::config::Settings;
use crate::domain::{Provider, ProviderKey, StoredValue};
use crate::secrets::{CryptoError, MasterKey, Sealed};
use crate::store::{Rewrap, SecretsStore, StoreError};

pub const MASTER_KEY_FILE: &str = "master.key";

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("{from} is not a master key: {source}")]
    Invalid { from: String, source: CryptoError },
    #[error("cannot read the master key {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the master key {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "this store's provider keys are sealed under a master key, but {path} does not exist; restore that file or set MODELGATE_MASTER_KEY"
    )]
    Missing { path: PathBuf },
    #[error(
        "the master key from {from} does not open this store's provider keys: they were sealed under another key"
    )]
    Wrong { from: String },
    #[error(
        "MODELGATE_MASTER_KEY is set, so the new key must come from MODELGATE_NEW_MASTER_KEY (32 bytes, base64)"
    )]
    NoNewKey,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

enum Source {
    Env(String),
    File { path: PathBuf, generate: bool },
}

impl Source {
    fn of(settings: &Settings) -> Source {
        if let Some(key) = &settings.auth.master_key {
            return Source::Env(key.clone());
        }
        match &settings.auth.master_key_file {
            Some(path) => Source::File {
                path: path.clone(),
                generate: false,
            },
            None => Source::File {
                path: settings.storage.data_dir.join(MASTER_KEY_FILE),
                generate: true,
            },
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::Env(_) => "MODELGATE_MASTER_KEY".into(),
            Source::File { path, .. } => path.display().to_string(),
        }
    }
}

/// The master key for `store`, checked against it (and recorded, on a store's first start).
pub fn load(settings: &Settings, store: &dyn SecretsStore) -> Result<MasterKey, MasterKeyError> {
    let source = Source::of(settings);
    let check = store.master_key_check()?;
    let key = match &source {
        Source::Env(text) => parse(text, "MODELGATE_MASTER_KEY")?,
        Source::File { path, generate } => {
            finish_interrupted_rotation(path, check.as_ref())?;
            match read_key_file(path)? {
                Some(key) => key,
                None if check.is_some() => {
                    return Err(MasterKeyError::Missing { path: path.clone() });
                }
                None if !generate => {
                    return Err(MasterKeyError::Read {
                        path: path.clone(),
                        source: io::ErrorKind::NotFound.into(),
                    });
                }
                None => {
                    let key = MasterKey::generate()?;
                    write_key_file(path, &key)?;
                    log::warn!(
                        "generated a master key in {} (mode 0600); it sits beside the data it protects: keep a copy elsewhere, or set MODELGATE_MASTER_KEY / auth.master_key_file",
                        path.display()
                    );
                    key
                }
            }
        }
    };
    match check {
        Some(check) if key.opens(&check) => {}
        Some(_) => {
            return Err(MasterKeyError::Wrong {
                from: source.describe(),
            });
        }
        None => store.set_master_key_check(&key.check_value()?)?,
    }
    seal_plaintext(store, &key)?;
    Ok(key)
}

/// Seals the secrets an earlier store format kept in the clear (its credential headers), so
/// that whatever opens the store with its key — the server, a rotation — finds none.
fn seal_plaintext(store: &dyn SecretsStore, key: &MasterKey) -> Result<(), MasterKeyError> {
    let seal = |p: &Provider| -> Result<Option<Provider>, CryptoError> {
        Ok(p.settings
            .sealed_plaintext(key, p.id)?
            .map(|settings| Provider {
                settings,
                ..p.clone()
            }))
    };
    if let Some(sealed) = store.seal_plaintext(&seal)? {
        log::info!(
            "sealed the credential headers of {sealed} providers that an earlier store format \
             kept in the clear, and rewrote the store's files without them"
        );
    }
    Ok(())
}

/// What [`rotate`] did.
pub struct Rotated {
    pub rewrapped: usize,
    pub now_in: String,
}

/// Re-wraps every sealed key under a new master key in one transaction. With a key file, the
/// new key goes to `<file>.new` first and replaces the file only once the store committed, so
/// a crash at any point leaves a store that opens with the key on disk (see [`load`]).
pub fn rotate(
    settings: &Settings,
    store: &dyn SecretsStore,
    new_key_env: Option<&str>,
) -> Result<Rotated, MasterKeyError> {
    let old = load(settings, store)?;
    let source = Source::of(settings);
    let new = match (&source, new_key_env) {
        (Source::Env(_), Some(text)) => parse(text, "MODELGATE_NEW_MASTER_KEY")?,
        (Source::Env(_), None) => return Err(MasterKeyError::NoNewKey),
        (Source::File { path, .. }, _) => {
            let new = MasterKey::generate()?;
            let pending = pending_path(path);
            let _ = fs::remove_file(&pending);
            write_key_file(&pending, &new)?;
            new
        }
    };
    let rewrap = |key: &ProviderKey| -> Result<Option<ProviderKey>, CryptoError> {
        match &key.value {
            StoredValue::Env(_) => Ok(None),
            StoredValue::Sealed(envelope) => Ok(Some(ProviderKey {
                value: StoredValue::Sealed(envelope.rewrap(&old, &new, &key.id.to_bytes())?),
                ..key.clone()
            })),
        }
    };
    let provider = |p: &Provider| -> Result<Option<Provider>, CryptoError> {
        Ok(p.settings
            .rewrapped(&old, &new, p.id)?
            .map(|settings| Provider {
                settings,
                ..p.clone()
            }))
    };
    let rewrap = Rewrap {
        key: &rewrap,
        provider: &provider,
    };
    let rewrapped = store.rewrap_secrets(&rewrap, &new.check_value()?)?;
    let now_in = match &source {
        Source::Env(_) => {
            "MODELGATE_NEW_MASTER_KEY: set MODELGATE_MASTER_KEY to it before the next start".into()
        }
        Source::File { path, .. } => {
            promote(&pending_path(path), path)?;
            path.display().to_string()
        }
    };
    Ok(Rotated { rewrapped, now_in })
}

/// A rotation that died after writing `<file>.new` either committed (the store opens with the
/// new key: move it into place) or did not (the old key still opens it: drop the new one).
fn finish_interrupted_rotation(path: &Path, check: Option<&Sealed>) -> Result<(), MasterKeyError> {
    let pending = pending_path(path);
    let Some(new) = read_key_file(&pending)? else {
        return Ok(());
    };
    if check.is_some_and(|check| new.opens(check)) {
        promote(&pending, path)?;
        log::warn!(
            "finished an interrupted master key rotation: {} is now the new key",
            path.display()
        );
    } else {
        fs::remove_file(&pending).map_err(|source| MasterKeyError::Write {
            path: pending.clone(),
            source,
        })?;
        log::warn!(
            "discarded {}: a master key rotation was interrupted before it took effect",
            pending.display()
        );
    }
    Ok(())
}

fn parse(text: &str, from: &str) -> Result<MasterKey, MasterKeyError> {
    MasterKey::from_base64(text).map_err(|source| MasterKeyError::Invalid {
        from: from.into(),
        source,
    })
}

fn pending_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".new");
    PathBuf::from(name)
}

fn read_key_file(path: &Path) -> Result<Option<MasterKey>, MasterKeyError> {
    match fs::read_to_string(path) {
        Ok(text) => parse(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(MasterKeyError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), MasterKeyError> {
    crate::files::create_secret_file(path, &key.to_base64()).map_err(|source| {
        MasterKeyError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

fn promote(pending: &Path, path: &Path) -> Result<(), MasterKeyError> {
    let write_error = |source| MasterKeyError::Write {
        path: path.to_owned(),
        source,
    };
    crate::files::rename_durably(pending, path).map_err(write_error)
}
