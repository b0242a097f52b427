//! A provider as the registry stores it, and what identifies it.

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::fields::check_length;
use super::rules::MAX_TEXT_CHARS;
use super::settings::Settings;
use super::{Violations, version_tag};

/// A stored provider record. Fields hold values that already passed parsing; reading one back
/// from storage does not re-validate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    pub id: Ulid,
    pub provider_id: ProviderSlug,
    pub name: String,
    pub base_url: String,
    pub metadata: Option<String>,
    pub surfaces: Vec<ApiSurface>,
    pub models: Vec<Model>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub created_by: String,
    pub last_updated_by: String,
    /// Bumped on every change that alters the record; the ETag is derived from it.
    pub version: u64,
    /// Added in store format 2; format-1 records are migrated with none set.
    pub settings: Settings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSurface {
    pub format: String,
    pub surface: Option<String>,
    pub supported_params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub id: Ulid,
    pub model_id: String,
}

impl Provider {
    /// A strong entity tag: unique per record and per version.
    pub fn etag(&self) -> String {
        version_tag(self.id, self.version)
    }

    /// The base URL as uniqueness compares it (AgentStack's `base_url`).
    pub fn same_base_url(&self) -> &str {
        same_base_url(&self.base_url)
    }
}

/// A base URL as uniqueness compares it: a trailing `/` is the same address.
pub fn same_base_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The address segment of model strings (`providerId:modelId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderSlug(String);

/// The `providerId` rule as a validator rule (whether it is reserved is a separate error).
pub fn valid_provider_id(s: &str) -> Result<(), validator::ValidationError> {
    super::validation::rule("provider_id", ProviderSlug::parse_shape(s).map(drop))
}

impl ProviderSlug {
    /// Checks length and character set only; whether the id is reserved is a separate error.
    pub fn parse_shape(s: &str) -> Result<ProviderSlug, String> {
        check_length(s, 1, MAX_TEXT_CHARS)?;
        let mut bytes = s.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok = bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
        if first_ok && rest_ok {
            Ok(ProviderSlug(s.to_owned()))
        } else {
            Err("must match ^[a-z0-9][a-z0-9._-]*$: start with a lowercase letter or digit, then only lowercase letters, digits, `.`, `_` and `-`".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a create or update body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    Invalid(Violations),
    ProviderIdReserved(String),
    ProviderIdImmutable,
}

/// What an `If-Match` header demands of the current record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `If-Match: *`: the record must exist.
    Exists,
    /// One of these entity tags (strong comparison) must be the current one.
    OneOf(Vec<String>),
}

impl Precondition {
    /// Whether a record whose current entity tag is `etag` satisfies the header.
    pub fn allows(&self, etag: &str) -> bool {
        match self {
            Precondition::Exists => true,
            Precondition::OneOf(tags) => tags.iter().any(|t| t == etag),
        }
    }
}
