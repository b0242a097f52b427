//! Bearer tokens. Only SHA-256 digests of tokens are kept in memory or in config files; a
//! presented token is hashed and compared in constant time against each known digest. Pure:
//! the HTTP middleware is `http::auth`, the admin token file `token_file`.

mod token_file;

use std::time::SystemTime;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

/// The set of accepted credentials, and when it was loaded: at start-up, so that is when each
/// of them came into force as far as a client can tell.
#[derive(Clone)]
pub struct Credentials {
    known: Vec<Credential>,
    loaded: SystemTime,
}

impl Credentials {
    pub fn new(credentials: Vec<Credential>) -> Credentials {
        Credentials {
            known: credentials,
            loaded: SystemTime::now(),
        }
    }

    /// Every credential's id, in the order they were given.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.known.iter().map(|c| c.id.as_str())
    }

    pub fn loaded_at(&self) -> SystemTime {
        self.loaded
    }

    /// The id of the credential whose token this is. Every digest is compared, so the time
    /// taken does not tell which one (if any) matched.
    pub fn identify(&self, token: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for c in &self.known {
            if bool::from(c.digest.ct_eq(&digest)) {
                found = Some(c.id.as_str());
            }
        }
        found
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
        assert_eq!(creds.identify("aaaaaaaaaaaaaaaaaaaa"), Some("a"));
        assert_eq!(creds.identify("bbbbbbbbbbbbbbbbbbbb"), Some("b"));
        assert_eq!(creds.identify("bbbbbbbbbbbbbbbbbbb"), None);
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
