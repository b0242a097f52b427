//! Stored management API keys (`/api-keys`): credentials made through the API. The record
//! holds the SHA-256 digest of the token and a redacted form of it, never the token: that is
//! shown once, in the answer to the create, and nowhere else.

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use validator::Validate;

use super::fields::{self, sent};
use super::{Input, SecretInput, Violations, next_id, schema, version_tag};

/// What every management API key's token starts with.
pub const API_KEY_PREFIX: &str = "mgk_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: Ulid,
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<String>,
    /// SHA-256 of the token.
    pub digest: [u8; 32],
    pub key_redacted: String,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub created_by: String,
    pub last_updated_by: String,
    pub last_used_ms: Option<u64>,
    pub version: u64,
}

impl ApiKey {
    pub fn etag(&self) -> String {
        version_tag(self.id, self.version)
    }
}

/// How a token shows in `keyRedacted`: as a provider key's value does (its prefix and its
/// last four characters for a token this long).
pub fn redact_token(token: &zeroize::Zeroizing<String>) -> String {
    SecretInput::Plain(token.clone()).redacted()
}

/// The body of `POST /api-keys` (ngrok's `AIGatewayAPIKeyCreate`): every field optional.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "ci deploys", "description": "used by the release job"}))]
pub struct CreateApiKey {
    /// `null` is the same as leaving it out.
    #[schema(schema_with = schema::optional_name)]
    #[validate(custom(function = "fields::name"))]
    pub name: Option<String>,
    #[schema(schema_with = schema::description)]
    #[validate(custom(function = "fields::description"))]
    pub description: Option<String>,
    #[schema(schema_with = schema::metadata)]
    #[validate(custom(function = "fields::metadata"))]
    pub metadata: Option<String>,
}

/// The body of `PATCH /api-keys/{id}` (ngrok's `AIGatewayAPIKeyUpdate`): `null` clears.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
pub struct UpdateApiKey {
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::optional_name)]
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
}

/// A parsed create body.
pub struct NewApiKey {
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<String>,
}

impl NewApiKey {
    /// Parses a body with the violations its reading found (see [`crate::domain::NewProvider::parse`]).
    pub fn parse(input: impl Into<Input<CreateApiKey>>) -> Result<NewApiKey, Violations> {
        let (input, v) = input.into().checked();
        if !v.is_empty() {
            return Err(v);
        }
        Ok(NewApiKey {
            name: input.name,
            description: input.description,
            metadata: input.metadata,
        })
    }

    /// The record of a key whose token has `digest`, shown as `redacted`.
    pub fn into_key(self, digest: [u8; 32], redacted: String, now_ms: u64, by: &str) -> ApiKey {
        ApiKey {
            id: next_id(),
            name: self.name,
            description: self.description,
            metadata: self.metadata,
            digest,
            key_redacted: redacted,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            created_by: by.to_owned(),
            last_updated_by: by.to_owned(),
            last_used_ms: None,
            version: 1,
        }
    }
}

/// A parsed PATCH: each field `None` when left out, `Some(None)` when cleared.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ApiKeyChanges {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Option<String>>,
}

impl ApiKeyChanges {
    /// Parses a body with the violations its reading found (see [`crate::domain::NewProvider::parse`]).
    pub fn parse(input: impl Into<Input<UpdateApiKey>>) -> Result<ApiKeyChanges, Violations> {
        let (input, v) = input.into().checked();
        if !v.is_empty() {
            return Err(v);
        }
        Ok(ApiKeyChanges {
            name: input.name,
            description: input.description,
            metadata: input.metadata,
        })
    }

    /// The record after the change, or `None` when it changes nothing.
    pub fn apply(&self, current: &ApiKey, now_ms: u64, by: &str) -> Option<ApiKey> {
        let mut next = current.clone();
        for (field, change) in [
            (&mut next.name, &self.name),
            (&mut next.description, &self.description),
            (&mut next.metadata, &self.metadata),
        ] {
            if let Some(value) = change {
                field.clone_from(value);
            }
        }
        (next != *current).then(|| {
            next.updated_at_ms = now_ms.max(current.updated_at_ms);
            next.last_updated_by = by.to_owned();
            next.version = current.version + 1;
            next
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        NewApiKey {
            name: Some("a".into()),
            description: Some("d".into()),
            metadata: None,
        }
        .into_key([7; 32], "mgk_…abcd".into(), 10, "admin")
    }

    #[test]
    fn a_patch_keeps_what_it_leaves_out_and_clears_what_it_nulls() {
        let changes = ApiKeyChanges {
            name: None,
            description: Some(None),
            metadata: Some(Some("m".into())),
        };
        let next = changes.apply(&key(), 20, "ci").unwrap();
        assert_eq!(next.name.as_deref(), Some("a"));
        assert_eq!(next.description, None);
        assert_eq!(next.metadata.as_deref(), Some("m"));
        assert_eq!((next.version, next.updated_at_ms), (2, 20));
        assert_eq!(next.last_updated_by, "ci");
        assert_eq!(next.digest, [7; 32]);
        assert!(ApiKeyChanges::default().apply(&key(), 20, "ci").is_none());
    }

    #[test]
    fn a_token_redacts_to_its_prefix_and_last_four() {
        let token = zeroize::Zeroizing::new(format!("{API_KEY_PREFIX}{}", "x".repeat(39) + "abcd"));
        assert_eq!(redact_token(&token), "mgk_…abcd");
    }
}
