//! Credentials kept in the store (management API keys): made with a token from the OS's
//! CSPRNG, known here only by the SHA-256 digest of that token. The set is a snapshot swapped
//! whole on each change, so a request reads it without a lock and sees either the old set or
//! the new one.

use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use ulid::Ulid;
use zeroize::Zeroizing;

use crate::domain::budget::Budget;

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
    /// An access key's `tokensPerMinute` and `budget`.
    pub tokens_per_minute: Option<u32>,
    pub budget: Option<Budget>,
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
            tokens_per_minute: None,
            budget: None,
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
    pub tokens_per_minute: Option<u32>,
    pub budget: Option<Budget>,
    pub configuration: Option<Ulid>,
}

/// The half of a digest a stored credential is found by; the other half is compared in
/// constant time, so how long a lookup takes says nothing of whether the deciding bytes matched.
type Selector = [u8; 16];
type Verifier = [u8; 16];

fn split(digest: &Digest) -> (Selector, Verifier) {
    let (selector, verifier) = digest.split_at(16);
    (
        selector.try_into().expect("16 bytes"),
        verifier.try_into().expect("16 bytes"),
    )
}

/// Two tokens share a selector with probability 2^-128, so one credential per selector is
/// enough; a token whose selector matches and verifier does not is refused like any other.
#[derive(Default)]
pub(super) struct Snapshot(ArcSwap<imbl::HashMap<Selector, (Verifier, StoredCredential)>>);

impl Snapshot {
    pub(super) fn identify(&self, digest: &Digest, now_ms: u64) -> Option<Identity> {
        let (selector, verifier) = split(digest);
        let set = self.0.load();
        let (kept, found) = set.get(&selector)?;
        if !bool::from(kept.ct_eq(&verifier)) {
            return None;
        }
        if found.expires_at_ms.is_some_and(|at| at <= now_ms) {
            return None;
        }
        Some(Identity {
            id: found.id.to_string(),
            kind: found.kind,
            stored: Some(found.id),
            requests_per_minute: found.requests_per_minute,
            tokens_per_minute: found.tokens_per_minute,
            budget: found.budget,
            configuration: found.configuration,
        })
    }

    pub(super) fn insert(&self, digest: Digest, credential: StoredCredential) {
        let (selector, verifier) = split(&digest);
        self.0
            .rcu(|set| Arc::new(set.update(selector, (verifier, credential.clone()))));
    }

    pub(super) fn replace(&self, all: impl IntoIterator<Item = (Digest, StoredCredential)>) {
        let set = all
            .into_iter()
            .map(|(digest, credential)| {
                let (selector, verifier) = split(&digest);
                (selector, (verifier, credential))
            })
            .collect();
        self.0.store(Arc::new(set));
    }

    /// Removes the credential of exactly this digest (not another that shared its selector).
    pub(super) fn remove(&self, digest: &Digest) {
        let (selector, verifier) = split(digest);
        self.0.rcu(|set| match set.get(&selector) {
            Some((kept, _)) if bool::from(kept.ct_eq(&verifier)) => {
                Arc::new(set.without(&selector))
            }
            _ => Arc::clone(set),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(id: Ulid) -> StoredCredential {
        StoredCredential {
            id,
            kind: Kind::Access,
            expires_at_ms: None,
            requests_per_minute: None,
            tokens_per_minute: None,
            budget: None,
            configuration: None,
        }
    }

    #[test]
    fn a_digest_is_found_only_when_its_verifier_half_matches_too() {
        let set = Snapshot::default();
        let token = new_token("mga_").unwrap();
        let id = Ulid::new();
        set.insert(digest(&token), credential(id));
        assert_eq!(set.identify(&digest(&token), 0).unwrap().stored, Some(id));
        let mut near = digest(&token);
        near[31] ^= 1;
        assert!(
            set.identify(&near, 0).is_none(),
            "same selector, other verifier"
        );
        set.remove(&near);
        assert!(
            set.identify(&digest(&token), 0).is_some(),
            "kept: not its digest"
        );
        set.remove(&digest(&token));
        assert!(set.identify(&digest(&token), 0).is_none());
    }

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
