//! Credentials kept in the store (management API keys): made with a token from the OS's
//! CSPRNG, known here only by the SHA-256 digest of that token. The set is a snapshot swapped
//! whole on each change, so a request reads it without a lock and sees either the old set or
//! the new one.

use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use ulid::Ulid;
use zeroize::Zeroizing;

/// The SHA-256 of a token.
pub type Digest = [u8; 32];

/// Random bytes in a new token: 256 bits.
const TOKEN_BYTES: usize = 32;

pub fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
}

/// A new token: `prefix` (so a leaked one is recognisable, and secret scanners can find it)
/// and 256 random bits in URL-safe base 64, which any header carries as it is.
pub fn new_token(prefix: &str) -> Result<Zeroizing<String>, getrandom::Error> {
    let mut bytes = Zeroizing::new([0u8; TOKEN_BYTES]);
    getrandom::fill(bytes.as_mut())?;
    let mut token = Zeroizing::new(String::with_capacity(prefix.len() + 43));
    token.push_str(prefix);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bytes.as_ref(), &mut token);
    Ok(token)
}

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The admin token or an `[[auth.tokens]]` entry.
    Bootstrap,
    /// A stored management API key (`/api-keys`).
    Management,
    /// A data-plane access key (`/access-keys`): model calls on `/v1` only.
    Access,
}

/// Who presented a token: the id that `createdBy` names, and the stored record's id, whose
/// use is noted for `lastUsed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub kind: Kind,
    pub stored: Option<Ulid>,
    /// An access key's `requestsPerMinute`.
    pub requests_per_minute: Option<u32>,
    /// The access key configuration that scopes an access key; `None`: allow-all.
    pub configuration: Option<Ulid>,
}

impl Identity {
    pub(super) fn bootstrap(id: &str) -> Identity {
        Identity {
            id: id.to_owned(),
            kind: Kind::Bootstrap,
            stored: None,
            requests_per_minute: None,
            configuration: None,
        }
    }
}

/// A stored credential as authentication needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    pub id: Ulid,
    pub kind: Kind,
    /// Refused from this time on (ms since the Unix epoch).
    pub expires_at_ms: Option<u64>,
    pub requests_per_minute: Option<u32>,
    pub configuration: Option<Ulid>,
}

#[derive(Default)]
pub(super) struct Snapshot(ArcSwap<imbl::HashMap<Digest, StoredCredential>>);

impl Snapshot {
    pub(super) fn identify(&self, digest: &Digest, now_ms: u64) -> Option<Identity> {
        let set = self.0.load();
        let found = set.get(digest)?;
        if found.expires_at_ms.is_some_and(|at| at <= now_ms) {
            return None;
        }
        Some(found).map(|c| Identity {
            id: c.id.to_string(),
            kind: c.kind,
            stored: Some(c.id),
            requests_per_minute: c.requests_per_minute,
            configuration: c.configuration,
        })
    }

    pub(super) fn insert(&self, digest: Digest, credential: StoredCredential) {
        self.0
            .rcu(|set| Arc::new(set.update(digest, credential.clone())));
    }

    pub(super) fn replace(&self, all: impl IntoIterator<Item = (Digest, StoredCredential)>) {
        self.0.store(Arc::new(all.into_iter().collect()));
    }

    pub(super) fn remove(&self, digest: &Digest) {
        self.0.rcu(|set| Arc::new(set.without(digest)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_has_its_prefix_and_256_random_bits() {
        let (a, b) = (new_token("mgk_").unwrap(), new_token("mgk_").unwrap());
        assert!(a.starts_with("mgk_") && a.len() == 4 + 43, "{}", a.len());
        assert_ne!(*a, *b);
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a[4..])
            .unwrap();
        assert_eq!(raw.len(), 32);
    }
}
