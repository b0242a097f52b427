//! Bearer tokens. Only SHA-256 digests of tokens are kept in memory, in config files or in the
//! store; a presented token is hashed, compared in constant time against each bootstrap digest
//! and looked up among the stored credentials' (`stored`). Pure: the HTTP middleware is
//! `http::auth`, the admin token file `token_file`.

mod stored;
mod token_file;

use std::time::SystemTime;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

pub use stored::{Digest, Identity, Kind, StoredCredential, digest, new_token};
pub use token_file::{AdminToken, AdminTokenError, load_or_create_admin_token};

/// Tokens shorter than this are refused: they could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;
/// The credential id of `MODELGATE_ADMIN_TOKEN` or the generated admin token.
pub const ADMIN_ID: &str = "admin";
/// What a credential's id is, as a pattern for schemas; [`is_credential_id`] is the same rule.
pub const CREDENTIAL_ID_PATTERN: &str = "^[A-Za-z0-9._-]{1,64}$";

/// 1-64 letters, digits, `.`, `_` or `-`: the rule `[[auth.tokens]]` ids are held to at
/// start, and what `/api-keys` paging accepts as an id.
pub fn is_credential_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A credential a request can present: an id for `createdBy`, and the digest of its token.
#[derive(Clone)]
pub struct Credential {
    pub id: String,
    digest: [u8; 32],
}

impl Credential {
    pub fn from_token(id: impl Into<String>, token: &str) -> Credential {
        Credential {
            id: id.into(),
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// From a configured hex digest; `None` when it is not 64 hex digits.
    pub fn from_hex_digest(id: impl Into<String>, hex_digest: &str) -> Option<Credential> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex_digest, &mut digest).ok()?;
        Some(Credential {
            id: id.into(),
            digest,
        })
    }

    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

/// The set of accepted credentials: the bootstrap ones, and when they were loaded (at
/// start-up, so that is when each came into force as far as a client can tell), and the
/// stored ones, a snapshot the registry replaces before it acknowledges a write, so the next
/// request sees it.
pub struct Credentials {
    known: Vec<Credential>,
    loaded: SystemTime,
    stored: stored::Snapshot,
    clock: WallClock,
}

/// Milliseconds since the Unix epoch, by which a stored credential expires: the system's, or
/// one a test moves.
pub type WallClock = std::sync::Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> WallClock {
    std::sync::Arc::new(|| {
        SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    })
}

impl Credentials {
    pub fn new(credentials: Vec<Credential>) -> Credentials {
        Credentials::with_clock(credentials, system_clock())
    }

    pub fn with_clock(credentials: Vec<Credential>, clock: WallClock) -> Credentials {
        Credentials {
            known: credentials,
            loaded: SystemTime::now(),
            stored: stored::Snapshot::default(),
            clock,
        }
    }

    /// The time expiry is judged by.
    pub fn now_ms(&self) -> u64 {
        (self.clock)()
    }

    /// Whether `id` names a bootstrap credential.
    pub fn is_bootstrap(&self, id: &str) -> bool {
        self.known.iter().any(|c| c.id == id)
    }

    /// Adds (or replaces) a stored credential: its token works from the next request on.
    pub fn insert(&self, digest: Digest, credential: StoredCredential) {
        self.stored.insert(digest, credential);
    }

    /// Replaces every stored credential at once (at start, and after a store failure).
    pub fn replace_stored(&self, all: impl IntoIterator<Item = (Digest, StoredCredential)>) {
        self.stored.replace(all);
    }

    /// Removes a stored credential: its token is refused from the next request on.
    pub fn remove(&self, digest: &Digest) {
        self.stored.remove(digest);
    }

    /// Every credential's id, in the order they were given.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.known.iter().map(|c| c.id.as_str())
    }

    pub fn loaded_at(&self) -> SystemTime {
        self.loaded
    }

    /// The credential whose token this is. Every bootstrap digest is compared, so the time
    /// taken does not tell which one (if any) matched; a stored one is found by half its
    /// digest and accepted on a constant-time comparison of the other half.
    pub fn identify(&self, token: &str) -> Option<Identity> {
        let digest = digest(token);
        let mut found = None;
        for c in &self.known {
            if bool::from(c.digest.ct_eq(&digest)) {
                found = Some(Identity::bootstrap(&c.id));
            }
        }
        found.or_else(|| self.stored.identify(&digest, self.now_ms()))
    }
}

/// `SHA-256(token)` in lowercase hex, as `[[auth.tokens]]` wants it.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` can be presented as a bearer token and is hard to guess: long enough, and
/// without white space at either end (a client's header would lose it), so that a token that
/// passes start-up is one a client can use.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.trim().is_empty() {
        return Err("is empty or only white space".into());
    }
    if token.trim() != token {
        return Err(
            "has white space at its start or end, which no Authorization header can carry".into(),
        );
    }
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(format!("is shorter than {MIN_TOKEN_CHARS} characters"));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_id_is_what_its_pattern_says() {
        let pattern = regex::Regex::new(CREDENTIAL_ID_PATTERN).unwrap();
        let long = "a".repeat(65);
        for id in [
            "admin",
            "ci-bot_2.x",
            "A",
            &long[..64],
            "",
            &long,
            "a b",
            "a/b",
            "é",
            "a:b",
        ] {
            assert_eq!(is_credential_id(id), pattern.is_match(id), "{id:?}");
        }
        assert!(is_credential_id(&long[..64]) && !is_credential_id(&long));
    }

    #[test]
    fn a_token_is_identified_only_by_its_exact_value() {
        let creds = Credentials::new(vec![
            Credential::from_token("a", "aaaaaaaaaaaaaaaaaaaa"),
            Credential::from_hex_digest("b", &hash_token("bbbbbbbbbbbbbbbbbbbb")).unwrap(),
        ]);
        let id = |token: &str| creds.identify(token).map(|i| i.id);
        assert_eq!(id("aaaaaaaaaaaaaaaaaaaa").as_deref(), Some("a"));
        assert_eq!(id("bbbbbbbbbbbbbbbbbbbb").as_deref(), Some("b"));
        assert_eq!(id("bbbbbbbbbbbbbbbbbbb"), None);
        let stored = ulid::Ulid::new();
        let token = new_token("mgk_").unwrap();
        creds.insert(
            digest(&token),
            StoredCredential {
                id: stored,
                kind: Kind::Management,
                expires_at_ms: None,
                requests_per_minute: None,
                tokens_per_minute: None,
                budget: None,
                configuration: None,
            },
        );
        let found = creds.identify(&token).unwrap();
        assert_eq!((found.id, found.stored), (stored.to_string(), Some(stored)));
        creds.remove(&digest(&token));
        assert!(creds.identify(&token).is_none());
    }

    #[test]
    fn a_token_with_surrounding_or_only_white_space_is_refused() {
        assert!(check_token("a-long-enough-token-123").is_ok());
        for bad in [
            " a-long-enough-token-123",
            "a-long-enough-token-123\t",
            "                    ",
        ] {
            assert!(check_token(bad).is_err(), "{bad:?}");
        }
        assert!(check_token("short").unwrap_err().contains("shorter"));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer  "), None);
        assert_eq!(bearer_token("Basic abc"), None);
    }
}
