//! Provider keys: the upstream credentials the gateway calls providers with. The value is
//! write-only; what is kept is either an environment reference or an encrypted envelope, plus
//! a redacted form for display.

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use validator::{Validate, ValidationError};
use zeroize::Zeroizing;

use super::fields::{self, check_length, cleared, sent};
use super::key_routing::{self, KeyRouting};
use super::provider::valid_provider_id;
use super::rules::{MAX_KEY_VALUE_CHARS, MAX_TEXT_CHARS};
use super::validation::at_paths;
use super::{Input, ProviderSlug, Violations, catalog, next_id, schema, version_tag};
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
    /// Stored beside the record by the store (see [`KeyRouting`]), never in its encoding.
    #[serde(skip)]
    pub routing: KeyRouting,
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

    /// The variable an `env.NAME` value names, when this process does not have it set now:
    /// the key is kept (the variable may be set before the next start) but cannot be used yet.
    pub fn unset_variable(&self) -> Option<&str> {
        match &self.value {
            StoredValue::Env(var) if std::env::var_os(var).is_none() => Some(var),
            _ => None,
        }
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
    /// `env.NAME` references are shown as written. Of a secret at most a third shows — as
    /// many characters at each end, four at the most — and nothing of one shorter than 12
    /// characters, which shows as eight stars whatever its length.
    pub fn redacted(&self) -> String {
        match self {
            SecretInput::Env(var) => format!("{ENV_PREFIX}{var}"),
            SecretInput::Plain(secret) => {
                let chars: Vec<char> = secret.chars().collect();
                if chars.len() < MIN_CHARS_TO_SHOW_ANY {
                    return "*".repeat(8);
                }
                let each_end = (chars.len() / 6).min(4);
                let head: String = chars[..each_end].iter().collect();
                let tail: String = chars[chars.len() - each_end..].iter().collect();
                format!("{head}…{tail}")
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

/// Secrets shorter than this show nothing of themselves in `keyRedacted`.
const MIN_CHARS_TO_SHOW_ANY: usize = 12;

pub(super) fn parse_secret(value: Zeroizing<String>) -> Result<SecretInput, String> {
    if value.is_empty() {
        return Err("is required".into());
    }
    // Messages here never quote the value.
    check_length(&value, 1, MAX_KEY_VALUE_CHARS)?;
    if value.chars().any(char::is_control) || value.trim() != value.as_str() {
        return Err("must not contain control characters or surrounding whitespace".into());
    }
    if value.len() >= ENV_PREFIX.len()
        && value.is_char_boundary(ENV_PREFIX.len())
        && value[..ENV_PREFIX.len()].eq_ignore_ascii_case(ENV_PREFIX)
        && !value.starts_with(ENV_PREFIX)
    {
        return Err(
            "looks like an environment reference with the wrong case: write it as env.NAME \
             (lower-case `env.`); a secret that really starts this way cannot be stored"
                .into(),
        );
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

/// The body of `POST /provider-keys`.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"providerId": "openai", "name": "team key",
                          "value": "env.OPENAI_API_KEY", "description": "from the vault"}))]
pub struct CreateProviderKey {
    #[schema(required = true, schema_with = schema::key_provider_id)]
    #[validate(
        required(message = "is required"),
        custom(function = "valid_provider_id")
    )]
    pub provider_id: Option<String>,
    #[schema(required = true, schema_with = schema::name)]
    #[validate(required(message = "is required"), custom(function = "fields::name"))]
    pub name: Option<String>,
    /// Checked by [`parse_secret`], not by a validator rule: validator copies a failing
    /// field's value into its error, and this one is a secret.
    #[schema(required = true, schema_with = schema::key_value)]
    pub value: Option<Zeroizing<String>>,
    #[schema(schema_with = schema::description)]
    #[validate(custom(function = "fields::description"))]
    pub description: Option<String>,
    #[schema(schema_with = schema::metadata)]
    #[validate(custom(function = "fields::metadata"))]
    pub metadata: Option<String>,
    /// Bifrost's `weight`: the key's share of its provider's calls (default 1).
    #[schema(minimum = 0, exclusive_minimum = 0, maximum = 1000)]
    pub weight: Option<f64>,
    /// Bifrost's `models`: the model ids the key may serve; absent or empty: every model.
    #[schema(schema_with = schema::key_models)]
    pub models: Option<Vec<String>>,
}

/// The body of `PATCH /provider-keys/{id}`.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "keeps_name", skip_on_field_errors = false))]
pub struct UpdateProviderKey {
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::name)]
    #[validate(custom(function = "fields::name"))]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::description)]
    #[validate(custom(function = "fields::description"))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::metadata)]
    #[validate(custom(function = "fields::metadata"))]
    pub metadata: Option<Option<String>>,
    /// `null` takes the weight away (the key counts as weight 1 again).
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = Option<f64>, minimum = 0, exclusive_minimum = 0, maximum = 1000)]
    pub weight: Option<Option<f64>>,
    /// `null` or `[]`: every model.
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::key_models)]
    pub models: Option<Option<Vec<String>>>,
}

fn keeps_name(input: &UpdateProviderKey) -> Result<(), ValidationError> {
    at_paths(
        "patch",
        cleared(&[("name", matches!(input.name, Some(None)))]),
    )
}

/// The body of `POST /provider-keys/{id}/rotate`.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[schema(example = json!({"name": "team key (rotated)", "value": "env.OPENAI_API_KEY_2"}))]
pub struct RotateProviderKey {
    /// Checked by [`parse_secret`] (see [`CreateProviderKey::value`]).
    #[schema(required = true, schema_with = schema::key_value)]
    pub value: Option<Zeroizing<String>>,
    #[schema(required = true, schema_with = schema::name)]
    #[validate(required(message = "is required"), custom(function = "fields::name"))]
    pub name: Option<String>,
}

/// The key value's rule, reported beside the validator rules of the same body.
fn secret(v: &mut Violations, value: Option<Zeroizing<String>>) -> Option<SecretInput> {
    match value {
        None => {
            v.add("value", "is required");
            None
        }
        Some(value) => v.check("value", parse_secret(value)),
    }
}

pub struct NewProviderKey {
    pub provider_id: ProviderSlug,
    pub name: String,
    pub secret: SecretInput,
    pub description: Option<String>,
    pub metadata: Option<String>,
    pub routing: KeyRouting,
}

impl NewProviderKey {
    /// Parses a body with the violations its reading found (see [`crate::domain::NewProvider::parse`]).
    pub fn parse(input: impl Into<Input<CreateProviderKey>>) -> Result<NewProviderKey, Violations> {
        let (mut input, mut v) = input.into().checked();
        let secret = secret(&mut v, input.value.take());
        let routing = key_routing::parse(&mut v, input.weight, input.models.take());
        let provider_id = input
            .provider_id
            .and_then(|s| ProviderSlug::parse_shape(&s).ok());
        match (provider_id, input.name, secret) {
            (Some(provider_id), Some(name), Some(secret)) if v.is_empty() => Ok(NewProviderKey {
                provider_id,
                name,
                secret,
                description: input.description,
                metadata: input.metadata,
                routing,
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
        self.into_key_as(next_id(), master, now_ms, by)
    }

    /// As [`NewProviderKey::into_key`], under an id chosen before (a router step names it).
    pub fn into_key_as(
        self,
        id: Ulid,
        master: &MasterKey,
        now_ms: u64,
        by: &str,
    ) -> Result<ProviderKey, CryptoError> {
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
            routing: self.routing,
        })
    }

    /// Whether `providerId` needs a registered custom provider (catalog ids always exist).
    pub fn needs_custom_provider(&self) -> bool {
        !catalog::is_reserved_provider_id(self.provider_id.as_str())
    }
}

mod changes;
pub use changes::{ProviderKeyChanges, Rotation};

#[cfg(test)]
mod tests;
