//! Bearer tokens. Only SHA-256 digests of tokens are kept in memory or in config files; a
//! presented token is hashed and compared in constant time against each known digest.

use std::fs::{self, OpenOptions};
use std::future::{Ready, ready};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Tokens shorter than this are refused: they could be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;
/// The credential id of `MODELGATE_ADMIN_TOKEN` or the generated admin token.
pub const ADMIN_ID: &str = "admin";
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

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

/// The set of accepted credentials.
#[derive(Clone, Default)]
pub struct Credentials(Vec<Credential>);

impl Credentials {
    pub fn new(credentials: Vec<Credential>) -> Credentials {
        Credentials(credentials)
    }

    /// The id of the credential whose token this is. Every digest is compared, so the time
    /// taken does not tell which one (if any) matched.
    pub fn identify(&self, token: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for c in &self.0 {
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

/// Who made the request: the id of the credential it presented.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Only present when `require_bearer` ran; its absence is a routing mistake, and the
        // safe answer to it is a refusal.
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or(ApiError::Unauthorized { presented: false }),
        )
    }
}

/// Middleware: lets a request through only with a known bearer token, before any routing,
/// body parsing or lookup happens, so an anonymous client learns nothing. A refusal is a normal
/// response (not an `Err`) so the access log still records it.
pub async fn require_bearer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match authenticate(&req) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refusal) => Ok(req
            .into_response(refusal.error_response())
            .map_into_right_body()),
    }
}

fn authenticate(req: &ServiceRequest) -> Result<Caller, ApiError> {
    let credentials = req
        .app_data::<web::Data<Credentials>>()
        .ok_or_else(|| ApiError::internal("no credentials configured in app data"))?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or(ApiError::Unauthorized { presented: false })?;
    credentials
        .identify(token)
        .map(|id| Caller { id: id.to_owned() })
        .ok_or(ApiError::Unauthorized { presented: true })
}

fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("the admin token in {path} is shorter than {MIN_TOKEN_CHARS} characters")]
    TooShort { path: PathBuf },
    #[error("cannot read the admin token {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write a new admin token to {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Where the admin token came from, for the start-up message.
pub enum AdminToken {
    Generated(PathBuf),
    Reused(PathBuf),
}

/// Reads `<data_dir>/admin-token`, creating it (mode 0600, 32 random bytes) on first start.
pub fn load_or_create_admin_token(
    data_dir: &Path,
) -> Result<(Credential, AdminToken), AdminTokenError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let token = text.trim();
            if token.chars().count() < MIN_TOKEN_CHARS {
                return Err(AdminTokenError::TooShort { path });
            }
            Ok((
                Credential::from_token(ADMIN_ID, token),
                AdminToken::Reused(path),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let token = generate_token().map_err(|source| AdminTokenError::Write {
                path: path.clone(),
                source,
            })?;
            write_secret_file(&path, &token).map_err(|source| AdminTokenError::Write {
                path: path.clone(),
                source,
            })?;
            Ok((
                Credential::from_token(ADMIN_ID, &token),
                AdminToken::Generated(path),
            ))
        }
        Err(source) => Err(AdminTokenError::Read { path, source }),
    }
}

fn generate_token() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(format!("mg_{}", hex::encode(bytes)))
}

/// Creates `path` readable by its owner only, failing rather than overwriting.
pub(crate) fn write_secret_file(path: &Path, secret: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{secret}")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer  "), None);
        assert_eq!(bearer_token("Basic abc"), None);
    }

    #[test]
    fn the_generated_admin_token_is_private_long_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (first, how) = load_or_create_admin_token(dir.path()).unwrap();
        assert!(matches!(how, AdminToken::Generated(_)));
        let path = dir.path().join(ADMIN_TOKEN_FILE);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let token = fs::read_to_string(&path).unwrap();
        assert!(token.trim().len() >= 64 + 3);
        let (second, how) = load_or_create_admin_token(dir.path()).unwrap();
        assert!(matches!(how, AdminToken::Reused(_)));
        assert_eq!(first.digest(), second.digest());
    }
}
