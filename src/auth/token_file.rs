//! The admin token file: `<data_dir>/admin-token`, made on first start, reused after.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{ADMIN_ID, Credential, check_token};
use crate::files::create_secret_file;

pub const ADMIN_TOKEN_FILE: &str = "admin-token";

#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("the admin token in {path} {rule}")]
    Unusable { path: PathBuf, rule: String },
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
            // The file ends its one line with a newline, as editors and `echo` write it.
            let token = text
                .strip_suffix('\n')
                .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
            if let Err(rule) = check_token(token) {
                return Err(AdminTokenError::Unusable { path, rule });
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
            create_secret_file(&path, &token).map_err(|source| AdminTokenError::Write {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
