//! Data-plane access keys (`/access-keys`): credentials for model calls on `/v1` only. Like
//! a management API key, the record holds the token's digest and redacted form, never the
//! token. modelgate's extensions — `expiresAt`, `disabled`, the limits `requestsPerMinute`,
//! `tokensPerMinute` and `budget` — are kept only when written.

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use validator::Validate;

use super::budget::{Budget, BudgetInput};
use super::fields::{self, sent, sent_whole, whole};
use super::rules::{REQUESTS_PER_MINUTE, ROTATE_GRACE_SECS, TOKENS_PER_MINUTE};
use super::{Input, Violations, next_id, parse_id, schema, version_tag};

/// What every access key's token starts with.
pub const ACCESS_KEY_PREFIX: &str = "mga_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: Ulid,
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<String>,
    /// SHA-256 of the token.
    pub digest: [u8; 32],
    pub key_redacted: String,
    /// Refused from this time on (ms since the Unix epoch).
    pub expires_at_ms: Option<u64>,
    /// `Some(true)`: refused without being deleted.
    pub disabled: Option<bool>,
    /// Model calls allowed per minute, counted in memory.
    pub requests_per_minute: Option<u32>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub created_by: String,
    pub last_updated_by: String,
    pub last_used_ms: Option<u64>,
    pub version: u64,
    /// The token a rotation replaced, while its grace lasts.
    pub previous: Option<PreviousToken>,
    /// The access key configuration that scopes it; `None`: allow-all.
    pub configuration: Option<Ulid>,
    /// What it may spend per UTC day or month. Last, with `tokens_per_minute`: a record
    /// written before they existed ends before them (the store reads it as neither set).
    pub budget: Option<Budget>,
    /// Input and output tokens its calls may use per minute, counted in memory.
    pub tokens_per_minute: Option<u32>,
}

/// A replaced token that keeps working until `until_ms` (ms since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousToken {
    pub digest: [u8; 32],
    pub until_ms: u64,
}

impl AccessKey {
    pub fn etag(&self) -> String {
        version_tag(self.id, self.version)
    }

    /// Whether its token is accepted at all (expiry is judged at each use).
    pub fn enabled(&self) -> bool {
        self.disabled != Some(true)
    }
}

/// The body of `POST /access-keys` (ngrok's `AIGatewayAccessKeyCreate`, and modelgate's
/// `expiresAt` and `disabled`).
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "chat app", "expiresAt": "2030-01-01T00:00:00Z"}))]
pub struct CreateAccessKey {
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
    #[schema(schema_with = schema::access_key_configuration_id)]
    pub access_key_configuration_id: Option<String>,
    #[schema(schema_with = schema::expires_at)]
    pub expires_at: Option<String>,
    /// `true` refuses the key without deleting it.
    #[schema(value_type = Option<bool>)]
    pub disabled: Option<bool>,
    /// Model calls allowed per minute (1 to 1000000); past it, 429 until the next minute.
    #[validate(range(min = "REQUESTS_PER_MINUTE.min", max = "REQUESTS_PER_MINUTE.max"))]
    #[serde(default, deserialize_with = "whole")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub requests_per_minute: Option<u32>,
    /// Input and output tokens its calls may use per minute (1 to 1000000000); once a
    /// minute's calls reach it, 429 until the next minute. A call's tokens are known only
    /// when it ends, so the limit stops the calls after.
    #[validate(range(min = "TOKENS_PER_MINUTE.min", max = "TOKENS_PER_MINUTE.max"))]
    #[serde(default, deserialize_with = "whole")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000000)]
    pub tokens_per_minute: Option<u32>,
    /// What the key may spend per UTC day or month; once spent, 402 until the next period.
    #[validate(nested)]
    pub budget: Option<BudgetInput>,
}

/// The body of `PATCH /access-keys/{id}`: `null` clears.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAccessKey {
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
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::access_key_configuration_id)]
    pub access_key_configuration_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::expires_at)]
    pub expires_at: Option<Option<String>>,
    /// `true` refuses the key without deleting it; `false` or `null` accepts it again.
    #[serde(default, deserialize_with = "sent")]
    #[schema(value_type = Option<bool>)]
    pub disabled: Option<Option<bool>>,
    /// Model calls allowed per minute (1 to 1000000); `null` removes the limit.
    #[validate(range(min = "REQUESTS_PER_MINUTE.min", max = "REQUESTS_PER_MINUTE.max"))]
    #[serde(default, deserialize_with = "sent_whole")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000)]
    pub requests_per_minute: Option<Option<u32>>,
    /// Input and output tokens per minute (1 to 1000000000); `null` removes the limit.
    #[validate(range(min = "TOKENS_PER_MINUTE.min", max = "TOKENS_PER_MINUTE.max"))]
    #[serde(default, deserialize_with = "sent_whole")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000000000)]
    pub tokens_per_minute: Option<Option<u32>>,
    /// The spending limit, replaced whole; `null` removes it.
    #[serde(default, deserialize_with = "sent")]
    #[validate(nested)]
    #[schema(value_type = Option<BudgetInput>)]
    pub budget: Option<Option<BudgetInput>>,
}

/// The violation of an `accessKeyConfigurationId` that names no configuration.
pub fn unknown_configuration(id: &str) -> Violations {
    let mut v = Violations::default();
    v.add(
        "accessKeyConfigurationId",
        format!(
            "no access key configuration `{}` exists; give the id of one \
             (GET /access-key-configurations), or null for allow-all scope",
            id.chars().take(64).collect::<String>()
        ),
    );
    v
}

/// An `accessKeyConfigurationId` as an id; whether one has it is the store's to say.
fn configuration_id(v: &mut Violations, id: Option<&str>) -> Option<Ulid> {
    let id = id?;
    let parsed = parse_id(id);
    if parsed.is_none() {
        for (path, message) in unknown_configuration(id).to_map() {
            v.add(path, message);
        }
    }
    parsed
}

/// An RFC 3339 time after `now_ms`, as ms since the Unix epoch. Any offset is taken (a client
/// in Berlin sends `+01:00`); answers show the same instant in UTC.
fn future_time(v: &mut Violations, raw: &str, now_ms: u64) -> Option<u64> {
    let parsed = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok());
    match parsed {
        None => {
            v.add(
                "expiresAt",
                "must be an RFC 3339 time, such as 2030-01-01T00:00:00Z or \
                 2030-01-01T01:00:00+01:00",
            );
            None
        }
        Some(at) if at <= now_ms => {
            v.add("expiresAt", "must be in the future");
            None
        }
        Some(at) => Some(at),
    }
}

/// A parsed create body.
pub struct NewAccessKey {
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<String>,
    pub expires_at_ms: Option<u64>,
    pub disabled: Option<bool>,
    pub requests_per_minute: Option<u32>,
    pub tokens_per_minute: Option<u32>,
    pub budget: Option<Budget>,
    pub configuration: Option<Ulid>,
}

impl NewAccessKey {
    /// Parses a body with the violations its reading found; `expiresAt` must be after `now_ms`.
    pub fn parse(
        input: impl Into<Input<CreateAccessKey>>,
        now_ms: u64,
    ) -> Result<NewAccessKey, Violations> {
        let (input, mut v) = input.into().checked();
        let configuration = configuration_id(&mut v, input.access_key_configuration_id.as_deref());
        let expires_at_ms = input
            .expires_at
            .as_deref()
            .and_then(|raw| future_time(&mut v, raw, now_ms));
        if !v.is_empty() {
            return Err(v);
        }
        Ok(NewAccessKey {
            name: input.name,
            description: input.description,
            metadata: input.metadata,
            expires_at_ms,
            disabled: input.disabled,
            requests_per_minute: input.requests_per_minute,
            tokens_per_minute: input.tokens_per_minute,
            budget: input.budget.and_then(Budget::of),
            configuration,
        })
    }

    pub fn into_key(self, digest: [u8; 32], redacted: String, now_ms: u64, by: &str) -> AccessKey {
        AccessKey {
            id: next_id(),
            name: self.name,
            description: self.description,
            metadata: self.metadata,
            digest,
            key_redacted: redacted,
            expires_at_ms: self.expires_at_ms,
            disabled: self.disabled,
            requests_per_minute: self.requests_per_minute,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            created_by: by.to_owned(),
            last_updated_by: by.to_owned(),
            last_used_ms: None,
            version: 1,
            previous: None,
            configuration: self.configuration,
            budget: self.budget,
            tokens_per_minute: self.tokens_per_minute,
        }
    }
}

/// The body of `POST /access-keys/{id}/rotate`: optional, as is its one field.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"graceSeconds": 300}))]
pub struct RotateAccessKey {
    /// How long the old token keeps working, 0 (the default: not at all) to 86400.
    #[validate(range(
        min = "ROTATE_GRACE_SECS.min",
        max = "ROTATE_GRACE_SECS.max",
        code = "seconds"
    ))]
    #[serde(default, deserialize_with = "whole")]
    #[schema(value_type = Option<u32>, minimum = 0, maximum = 86400)]
    pub grace_seconds: Option<u32>,
}

/// A parsed rotation.
pub struct AccessKeyRotation {
    pub grace_ms: u64,
}

impl AccessKeyRotation {
    pub fn parse(
        input: impl Into<Input<RotateAccessKey>>,
    ) -> Result<AccessKeyRotation, Violations> {
        let (input, v) = input.into().checked();
        if !v.is_empty() {
            return Err(v);
        }
        Ok(AccessKeyRotation {
            grace_ms: u64::from(input.grace_seconds.unwrap_or(0)) * 1000,
        })
    }

    /// The key under its new token; the old one is kept, as `previous`, until `wall_ms` plus
    /// the grace (not at all without one).
    pub fn apply(
        &self,
        current: &AccessKey,
        digest: [u8; 32],
        redacted: &str,
        wall_ms: u64,
        now_ms: u64,
        by: &str,
    ) -> AccessKey {
        let mut next = current.clone();
        next.digest = digest;
        next.key_redacted = redacted.to_owned();
        next.previous = (self.grace_ms > 0).then_some(PreviousToken {
            digest: current.digest,
            until_ms: wall_ms + self.grace_ms,
        });
        next.updated_at_ms = now_ms.max(current.updated_at_ms);
        next.last_updated_by = by.to_owned();
        next.version = current.version + 1;
        next
    }
}

/// A parsed PATCH: each field `None` when left out, `Some(None)` when cleared.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AccessKeyChanges {
    pub name: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Option<String>>,
    pub expires_at_ms: Option<Option<u64>>,
    pub disabled: Option<Option<bool>>,
    pub requests_per_minute: Option<Option<u32>>,
    pub tokens_per_minute: Option<Option<u32>>,
    pub budget: Option<Option<Budget>>,
    pub configuration: Option<Option<Ulid>>,
}

impl AccessKeyChanges {
    /// Parses a body with the violations its reading found; `expiresAt` must be after `now_ms`.
    pub fn parse(
        input: impl Into<Input<UpdateAccessKey>>,
        now_ms: u64,
    ) -> Result<AccessKeyChanges, Violations> {
        let (input, mut v) = input.into().checked();
        let configuration = input
            .access_key_configuration_id
            .map(|id| configuration_id(&mut v, id.as_deref()));
        let expires_at_ms = match input.expires_at {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => future_time(&mut v, &raw, now_ms).map(Some),
        };
        if !v.is_empty() {
            return Err(v);
        }
        Ok(AccessKeyChanges {
            name: input.name,
            description: input.description,
            metadata: input.metadata,
            expires_at_ms,
            disabled: input.disabled,
            requests_per_minute: input.requests_per_minute,
            tokens_per_minute: input.tokens_per_minute,
            budget: input.budget.map(|b| b.and_then(Budget::of)),
            configuration,
        })
    }

    /// The record after the change, or `None` when it changes nothing.
    pub fn apply(&self, current: &AccessKey, now_ms: u64, by: &str) -> Option<AccessKey> {
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
        if let Some(at) = self.expires_at_ms {
            next.expires_at_ms = at;
        }
        if let Some(disabled) = self.disabled {
            next.disabled = disabled;
        }
        if let Some(limit) = self.requests_per_minute {
            next.requests_per_minute = limit;
        }
        if let Some(limit) = self.tokens_per_minute {
            next.tokens_per_minute = limit;
        }
        if let Some(budget) = self.budget {
            next.budget = budget;
        }
        if let Some(configuration) = self.configuration {
            next.configuration = configuration;
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

    #[test]
    fn expiry_must_be_a_future_rfc_3339_time_and_a_configuration_an_id() {
        let body = CreateAccessKey {
            expires_at: Some("2030-01-01T00:00:00Z".into()),
            access_key_configuration_id: Some("cfg".into()),
            ..Default::default()
        };
        let v = NewAccessKey::parse(body, 0).err().unwrap().to_map();
        assert!(v["accessKeyConfigurationId"].contains("no access key configuration `cfg`"));
        assert!(!v.contains_key("expiresAt"));
        let late = 1_800_000_000_000;
        for raw in ["2030-01-01T00:00:00Z", "tomorrow"] {
            let body = CreateAccessKey {
                expires_at: Some(raw.into()),
                ..Default::default()
            };
            let v = NewAccessKey::parse(body, late * 2).err().unwrap().to_map();
            assert!(v.contains_key("expiresAt"), "{raw}");
        }
        let body = CreateAccessKey {
            expires_at: Some("2030-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        let new = NewAccessKey::parse(body, late).ok().unwrap();
        assert_eq!(new.expires_at_ms, Some(1_893_456_000_000));
        for (raw, ms) in [
            ("2030-01-01T01:00:00+01:00", 1_893_456_000_000),
            ("2029-12-31T19:30:00.250-04:30", 1_893_456_000_250),
        ] {
            let body = CreateAccessKey {
                expires_at: Some(raw.into()),
                ..Default::default()
            };
            let new = NewAccessKey::parse(body, late).ok().unwrap();
            assert_eq!(new.expires_at_ms, Some(ms), "{raw}");
        }
    }
}
