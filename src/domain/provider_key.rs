//! Provider keys: the upstream credentials the gateway calls providers with. The value is
//! write-only; what is kept is either an environment reference or an encrypted envelope, plus
//! a redacted form for display.

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::fields::{
    check_length, parse_metadata, parse_name, patch_optional, patch_required, required, sent,
};
use super::rules::{MAX_KEY_VALUE_CHARS, MAX_TEXT_CHARS};
use super::{ProviderSlug, Violations, catalog, next_id, schema, version_tag};
use crate::secrets::{CryptoError, Envelope, MasterKey};

/// Values written as `env.NAME` are references to the environment, resolved when used.
pub const ENV_PREFIX: &str = "env.";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderKey {
    pub id: Ulid,
    pub provider_id: ProviderSlug,
    pub name: String,
    pub description: Option<String>,
    pub metadata: Option<String>,
    pub key_redacted: String,
    pub value: StoredValue,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub created_by: String,
    pub last_updated_by: String,
    pub last_used_ms: Option<u64>,
    pub version: u64,
}

/// How the secret is kept: never as plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredValue {
    Env(String),
    Sealed(Envelope),
}

#[derive(Debug, thiserror::Error)]
pub enum RevealError {
    #[error("environment variable {0} is not set")]
    EnvUnset(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl ProviderKey {
    pub fn etag(&self) -> String {
        version_tag(self.id, self.version)
    }

    /// The plaintext, for the moment it is needed: zeroed when the caller drops it.
    pub fn reveal(&self, master: &MasterKey) -> Result<Zeroizing<String>, RevealError> {
        match &self.value {
            StoredValue::Env(var) => std::env::var(var)
                .map(Zeroizing::new)
                .map_err(|_| RevealError::EnvUnset(var.clone())),
            StoredValue::Sealed(envelope) => {
                let bytes = envelope.open(master, &self.id.to_bytes())?;
                Ok(Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned()))
            }
        }
    }
}

/// A value as sent, before sealing.
pub enum SecretInput {
    Env(String),
    Plain(Zeroizing<String>),
}

impl SecretInput {
    /// `env.NAME` references are shown as written; secrets as their first and last four
    /// characters, or all stars when they are too short to show any.
    pub fn redacted(&self) -> String {
        match self {
            SecretInput::Env(var) => format!("{ENV_PREFIX}{var}"),
            SecretInput::Plain(secret) => {
                let chars: Vec<char> = secret.chars().collect();
                if chars.len() <= 8 {
                    "*".repeat(chars.len())
                } else {
                    let head: String = chars[..4].iter().collect();
                    let tail: String = chars[chars.len() - 4..].iter().collect();
                    format!("{head}…{tail}")
                }
            }
        }
    }

    /// What gets stored for record `id`.
    pub fn store(&self, master: &MasterKey, id: Ulid) -> Result<StoredValue, CryptoError> {
        Ok(match self {
            SecretInput::Env(var) => StoredValue::Env(var.clone()),
            SecretInput::Plain(secret) => {
                StoredValue::Sealed(Envelope::seal(master, &id.to_bytes(), secret.as_bytes())?)
            }
        })
    }
}

fn parse_secret(value: Zeroizing<String>) -> Result<SecretInput, String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    // Messages here never quote the value.
    check_length(&value, 1, MAX_KEY_VALUE_CHARS)?;
    if value.chars().any(char::is_control) || value.trim() != value.as_str() {
        return Err("must not contain control characters or surrounding whitespace".into());
    }
    if let Some(var) = value.strip_prefix(ENV_PREFIX) {
        let mut bytes = var.bytes();
        let ok = var.len() <= MAX_TEXT_CHARS
            && bytes
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(
                "an `env.` reference must name a variable: env.NAME with NAME matching ^[A-Za-z_][A-Za-z0-9_]*$"
                    .into(),
            );
        }
        return Ok(SecretInput::Env(var.to_owned()));
    }
    Ok(SecretInput::Plain(value))
}

fn parse_description(s: String) -> Result<String, String> {
    check_length(&s, 0, MAX_TEXT_CHARS)?;
    Ok(s)
}

/// The body of `POST /provider-keys`.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"providerId": "openai", "name": "team key",
                          "value": "env.OPENAI_API_KEY", "description": "from the vault"}))]
pub struct CreateProviderKey {
    #[schema(required = true, schema_with = schema::key_provider_id)]
    pub provider_id: Option<String>,
    #[schema(required = true, schema_with = schema::name)]
    pub name: Option<String>,
    #[schema(required = true, schema_with = schema::key_value)]
    pub value: Option<Zeroizing<String>>,
    #[schema(schema_with = schema::description)]
    pub description: Option<String>,
    #[schema(schema_with = schema::metadata)]
    pub metadata: Option<String>,
}

/// The body of `PATCH /provider-keys/{id}`.
#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateProviderKey {
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::name)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::description)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::metadata)]
    pub metadata: Option<Option<String>>,
}

/// The body of `POST /provider-keys/{id}/rotate`.
#[derive(Default, Deserialize, ToSchema)]
#[schema(example = json!({"name": "team key (rotated)", "value": "env.OPENAI_API_KEY_2"}))]
pub struct RotateProviderKey {
    #[schema(required = true, schema_with = schema::key_value)]
    pub value: Option<Zeroizing<String>>,
    #[schema(required = true, schema_with = schema::name)]
    pub name: Option<String>,
}

pub struct NewProviderKey {
    pub provider_id: ProviderSlug,
    pub name: String,
    pub secret: SecretInput,
    pub description: Option<String>,
    pub metadata: Option<String>,
}

impl NewProviderKey {
    pub fn parse(input: CreateProviderKey) -> Result<NewProviderKey, Violations> {
        let mut v = Violations::default();
        let provider_id = required(&mut v, "providerId", input.provider_id)
            .and_then(|s| v.check("providerId", ProviderSlug::parse_shape(&s)));
        let name =
            required(&mut v, "name", input.name).and_then(|s| v.check("name", parse_name(s)));
        let secret =
            required(&mut v, "value", input.value).and_then(|s| v.check("value", parse_secret(s)));
        let description = input
            .description
            .and_then(|s| v.check("description", parse_description(s)));
        let metadata = input
            .metadata
            .and_then(|s| v.check("metadata", parse_metadata(s)));
        match (provider_id, name, secret) {
            (Some(provider_id), Some(name), Some(secret)) if v.is_empty() => Ok(NewProviderKey {
                provider_id,
                name,
                secret,
                description,
                metadata,
            }),
            _ => Err(v),
        }
    }

    pub fn into_key(
        self,
        master: &MasterKey,
        now_ms: u64,
        by: &str,
    ) -> Result<ProviderKey, CryptoError> {
        let id = next_id();
        Ok(ProviderKey {
            id,
            key_redacted: self.secret.redacted(),
            value: self.secret.store(master, id)?,
            provider_id: self.provider_id,
            name: self.name,
            description: self.description,
            metadata: self.metadata,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            created_by: by.to_owned(),
            last_updated_by: by.to_owned(),
            last_used_ms: None,
            version: 1,
        })
    }

    /// Whether `providerId` needs a registered custom provider (catalog ids always exist).
    pub fn needs_custom_provider(&self) -> bool {
        !catalog::is_reserved_provider_id(self.provider_id.as_str())
    }
}

/// A parsed key PATCH.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProviderKeyChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Option<String>>,
}

impl ProviderKeyChanges {
    pub fn parse(input: UpdateProviderKey) -> Result<ProviderKeyChanges, Violations> {
        let mut v = Violations::default();
        let name = patch_required(&mut v, "name", input.name, parse_name);
        let description =
            patch_optional(&mut v, "description", input.description, parse_description);
        let metadata = patch_optional(&mut v, "metadata", input.metadata, parse_metadata);
        if !v.is_empty() {
            return Err(v);
        }
        Ok(ProviderKeyChanges {
            name,
            description,
            metadata,
        })
    }

    pub fn apply(&self, current: &ProviderKey, now_ms: u64, by: &str) -> Option<ProviderKey> {
        let mut next = current.clone();
        if let Some(name) = &self.name {
            next.name.clone_from(name);
        }
        if let Some(description) = &self.description {
            next.description.clone_from(description);
        }
        if let Some(metadata) = &self.metadata {
            next.metadata.clone_from(metadata);
        }
        (next != *current).then(|| touched(next, current, now_ms, by))
    }
}

/// A parsed rotation: a new secret (and name) for the same key id.
pub struct Rotation {
    pub name: String,
    pub secret: SecretInput,
}

impl Rotation {
    pub fn parse(input: RotateProviderKey) -> Result<Rotation, Violations> {
        let mut v = Violations::default();
        let name =
            required(&mut v, "name", input.name).and_then(|s| v.check("name", parse_name(s)));
        let secret =
            required(&mut v, "value", input.value).and_then(|s| v.check("value", parse_secret(s)));
        match (name, secret) {
            (Some(name), Some(secret)) => Ok(Rotation { name, secret }),
            _ => Err(v),
        }
    }

    /// The new value as stored for key `id`: sealed once, before the transaction, so a
    /// retried transaction does no crypto.
    pub fn seal(&self, master: &MasterKey, id: Ulid) -> Result<StoredValue, CryptoError> {
        self.secret.store(master, id)
    }

    /// A rotation always changes the record: even the same value is sealed afresh.
    pub fn apply(
        &self,
        value: &StoredValue,
        current: &ProviderKey,
        now_ms: u64,
        by: &str,
    ) -> ProviderKey {
        let mut next = current.clone();
        next.name.clone_from(&self.name);
        next.value = value.clone();
        next.key_redacted = self.secret.redacted();
        touched(next, current, now_ms, by)
    }
}

fn touched(mut next: ProviderKey, current: &ProviderKey, now_ms: u64, by: &str) -> ProviderKey {
    next.updated_at_ms = now_ms.max(current.updated_at_ms);
    next.last_updated_by = by.to_owned();
    next.version = current.version + 1;
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretInput {
        parse_secret(Zeroizing::new(s.to_owned())).ok().unwrap()
    }

    #[test]
    fn short_values_are_all_stars_and_long_ones_show_four_and_four() {
        assert_eq!(secret("abc").redacted(), "***");
        assert_eq!(secret("12345678").redacted(), "********");
        assert_eq!(secret("123456789").redacted(), "1234…6789");
        assert_eq!(secret("sk-proj-abcdefghijklmnop").redacted(), "sk-p…mnop");
        assert_eq!(
            secret("env.OPENAI_API_KEY").redacted(),
            "env.OPENAI_API_KEY"
        );
    }

    #[test]
    fn env_references_must_name_a_variable() {
        assert!(matches!(secret("env._X1"), SecretInput::Env(v) if v == "_X1"));
        for bad in ["env.", "env.1X", "env.A-B", "env.A B"] {
            assert!(parse_secret(Zeroizing::new(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sealed_value_reveals_the_original_and_an_env_value_reads_the_environment() {
        let master = MasterKey::generate().unwrap();
        let new = NewProviderKey {
            provider_id: ProviderSlug::parse_shape("openai").unwrap(),
            name: "k".into(),
            secret: secret("sk-live-0123456789"),
            description: None,
            metadata: None,
        };
        let key = new.into_key(&master, 0, "admin").unwrap();
        assert_eq!(key.reveal(&master).unwrap().as_str(), "sk-live-0123456789");
        let stored = serde_json::to_string(&key).unwrap();
        assert!(!stored.contains("sk-live-0123456789"));
        assert!(key.reveal(&MasterKey::generate().unwrap()).is_err());

        let var = "MODELGATE_TEST_REVEAL_VAR";
        // SAFETY: this test alone touches this variable name.
        unsafe { std::env::set_var(var, "from-the-env") };
        let mut env_key = key.clone();
        env_key.value = StoredValue::Env(var.into());
        assert_eq!(env_key.reveal(&master).unwrap().as_str(), "from-the-env");
        env_key.value = StoredValue::Env("MODELGATE_TEST_SURELY_UNSET".into());
        assert!(matches!(
            env_key.reveal(&master),
            Err(RevealError::EnvUnset(_))
        ));
    }
}
