//! Access key configurations (`/access-key-configurations`): a reusable scope — which providers
//! and models the access keys under it may call (ngrok's `AccessScope`). The entries are kept as
//! written; what they mean for a call is worked out once per write, into the routing snapshot
//! (`gateway::table::scope`), never per call. Its `router` (`router`) says which provider keys
//! those calls use.

mod router;

pub use router::{InlineKey, Router, RouterInput, RouterRule, RouterStep, StepKey, Strategy};

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::fields::{self, cleared, sent};
use super::rules::{MAX_SCOPE_ENTRIES, MAX_TEXT_CHARS};
use super::validation::at_paths;
use super::wire::Object;
use super::{Input, Violations, next_id, parse_id, schema, version_tag};

/// What `models.allow` spells "every model of this provider" with (modelgate's extension).
pub const EVERY_MODEL: &str = "*";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyConfiguration {
    pub id: Ulid,
    pub name: String,
    pub description: Option<String>,
    pub metadata: Option<String>,
    /// `None`: allow-all.
    pub access: Option<AccessScope>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub created_by: String,
    pub last_updated_by: String,
    pub version: u64,
    /// Last, so that a record written before routers existed is this one without it (see
    /// `store::sled::configurations`). `None`: no rules.
    pub router: Option<Router>,
}

impl AccessKeyConfiguration {
    pub fn etag(&self) -> String {
        version_tag(self.id, self.version)
    }
}

/// ngrok's `AccessScope`, each dimension's `allow` list as written: `None` imposes no limit on
/// that dimension, an empty list allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessScope {
    pub providers: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
}

/// One dimension of `access` as sent.
#[derive(Default, Deserialize)]
pub struct DimensionInput {
    pub allow: Option<Vec<String>>,
}

/// `access` as sent; `null` anywhere is the same as leaving it out.
#[derive(Default, Deserialize)]
pub struct AccessInput {
    pub providers: Option<Object<DimensionInput>>,
    pub models: Option<Object<DimensionInput>>,
}

/// The body of `POST /access-key-configurations` (ngrok's
/// `AIGatewayAccessKeyConfigurationCreate`, without `router`).
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "chat app",
    "access": {"providers": {"allow": ["openai"]}, "models": {"allow": ["openai:gpt-4o"]}}}))]
pub struct CreateAccessKeyConfiguration {
    #[schema(required = true, schema_with = schema::name)]
    #[validate(required(message = "is required"), custom(function = "fields::name"))]
    pub name: Option<String>,
    #[schema(schema_with = schema::description)]
    #[validate(custom(function = "fields::description"))]
    pub description: Option<String>,
    #[schema(schema_with = schema::metadata)]
    #[validate(custom(function = "fields::metadata"))]
    pub metadata: Option<String>,
    #[schema(schema_with = schema::access)]
    pub access: Option<Object<AccessInput>>,
    #[schema(schema_with = schema::router)]
    pub router: Option<Object<RouterInput>>,
}

/// The body of `PATCH /access-key-configurations/{id}`: omitted keeps, `null` clears (`access:
/// null` is allow-all again); `access` is replaced whole.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "keeps_name"))]
pub struct UpdateAccessKeyConfiguration {
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
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::access)]
    pub access: Option<Option<Object<AccessInput>>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::router)]
    pub router: Option<Option<Object<RouterInput>>>,
}

fn keeps_name(input: &UpdateAccessKeyConfiguration) -> Result<(), ValidationError> {
    at_paths(
        "patch",
        cleared(&[("name", matches!(input.name, Some(None)))]),
    )
}

/// What the registry knows of providers when a scope is written.
pub trait KnownProviders {
    /// A registered `providerId`, a catalog id, or a registered provider's `id`.
    fn provider(&self, entry: &str) -> bool;
    /// A registered `providerId` or a catalog id: what a `providerId:` prefix may name.
    fn provider_id(&self, slug: &str) -> bool;
    /// The `providerId` of what [`KnownProviders::provider`] accepts.
    fn slug_of(&self, entry: &str) -> Option<String>;
    /// The `providerId` of the provider key with this id, if there is one.
    fn key_owner(&self, key: Ulid) -> Option<String>;
}

/// A `providers.allow` entry: a `providerId` or a provider's `id`.
pub(super) fn provider_entry_shape(entry: &str) -> bool {
    let slug = entry
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && entry.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    slug || parse_id(entry).is_some()
}

/// A `models.allow` entry: no white space, no control character.
pub(super) fn model_entry_shape(entry: &str) -> bool {
    !entry.is_empty() && entry.chars().all(|c| !c.is_whitespace() && !c.is_control())
}

fn check_list(
    v: &mut Violations,
    path: &str,
    list: &[String],
    shape: fn(&str) -> bool,
    what: &str,
) {
    if list.len() > MAX_SCOPE_ENTRIES {
        v.add(
            path,
            format!(
                "must have at most {MAX_SCOPE_ENTRIES} entries (got {})",
                list.len()
            ),
        );
        return;
    }
    for (i, entry) in list.iter().enumerate() {
        let n = entry.chars().count();
        if n == 0 || n > MAX_TEXT_CHARS {
            v.add(
                format!("{path}[{i}]"),
                format!("must be between 1 and {MAX_TEXT_CHARS} characters long (got {n})"),
            );
        } else if !shape(entry) {
            v.add(format!("{path}[{i}]"), format!("must be {what}"));
        }
    }
}

/// `access` checked against its rules and against the providers `known` holds; every
/// violation goes to `v`.
fn parse_access(v: &mut Violations, input: AccessInput, known: &dyn KnownProviders) -> AccessScope {
    let providers = input.providers.and_then(|d| d.0.allow);
    let models = input.models.and_then(|d| d.0.allow);
    if let Some(list) = &providers {
        let path = "access.providers.allow";
        let before = v.count();
        check_list(
            v,
            path,
            list,
            provider_entry_shape,
            "a providerId (lowercase letters, digits, `.`, `_`, `-`) or a provider's id",
        );
        if v.count() == before {
            for (i, entry) in list.iter().enumerate() {
                if !known.provider(entry) {
                    v.add(
                        format!("{path}[{i}]"),
                        format!(
                            "names no known provider: `{entry}` is neither a registered \
                             providerId, a provider's id nor a built-in catalog id"
                        ),
                    );
                }
            }
        }
    }
    if let Some(list) = &models {
        let path = "access.models.allow";
        let before = v.count();
        check_list(
            v,
            path,
            list,
            model_entry_shape,
            "a model id without white space: `providerId:modelId`, a bare model id, or \
             `providerId:*`",
        );
        if v.count() == before {
            for (i, entry) in list.iter().enumerate() {
                if let Some(slug) = entry.strip_suffix(":*")
                    && !known.provider_id(slug)
                {
                    v.add(
                        format!("{path}[{i}]"),
                        format!(
                            "`{slug}:*` names no known provider: `{slug}` is neither a \
                             registered providerId nor a built-in catalog id"
                        ),
                    );
                }
            }
        }
    }
    AccessScope { providers, models }
}

/// A parsed create body.
pub struct NewAccessKeyConfiguration {
    pub name: String,
    pub description: Option<String>,
    pub metadata: Option<String>,
    pub access: Option<AccessScope>,
    pub router: Option<Router>,
    /// The provider keys its steps create.
    pub new_keys: Vec<InlineKey>,
}

impl NewAccessKeyConfiguration {
    pub fn parse(
        input: impl Into<Input<CreateAccessKeyConfiguration>>,
        known: &dyn KnownProviders,
    ) -> Result<NewAccessKeyConfiguration, Violations> {
        let (input, mut v) = input.into().checked();
        let access = input.access.map(|a| parse_access(&mut v, a.0, known));
        let (router, new_keys) = match input.router {
            Some(r) => {
                let (router, keys) = router::parse_router(&mut v, r.0, known);
                (Some(router), keys)
            }
            None => (None, Vec::new()),
        };
        if !v.is_empty() {
            return Err(v);
        }
        Ok(NewAccessKeyConfiguration {
            name: input.name.unwrap_or_default(),
            description: input.description,
            metadata: input.metadata,
            access,
            router,
            new_keys,
        })
    }

    pub fn into_configuration(self, now_ms: u64, by: &str) -> AccessKeyConfiguration {
        AccessKeyConfiguration {
            id: next_id(),
            name: self.name,
            description: self.description,
            metadata: self.metadata,
            access: self.access,
            router: self.router,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            created_by: by.to_owned(),
            last_updated_by: by.to_owned(),
            version: 1,
        }
    }
}

/// A parsed PATCH: each field `None` when left out, `Some(None)` when cleared.
#[derive(Default)]
pub struct AccessKeyConfigurationChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Option<String>>,
    pub access: Option<Option<AccessScope>>,
    pub router: Option<Option<Router>>,
    /// The provider keys the new router's steps create.
    pub new_keys: Vec<InlineKey>,
}

impl AccessKeyConfigurationChanges {
    pub fn parse(
        input: impl Into<Input<UpdateAccessKeyConfiguration>>,
        known: &dyn KnownProviders,
    ) -> Result<AccessKeyConfigurationChanges, Violations> {
        let (input, mut v) = input.into().checked();
        let access = input
            .access
            .map(|a| a.map(|a| parse_access(&mut v, a.0, known)));
        let mut new_keys = Vec::new();
        let router = input.router.map(|r| {
            r.map(|r| {
                let (router, keys) = router::parse_router(&mut v, r.0, known);
                new_keys = keys;
                router
            })
        });
        if !v.is_empty() {
            return Err(v);
        }
        Ok(AccessKeyConfigurationChanges {
            name: input.name.flatten(),
            description: input.description,
            metadata: input.metadata,
            access,
            router,
            new_keys,
        })
    }

    /// The record after the change, or `None` when it changes nothing.
    pub fn apply(
        &self,
        current: &AccessKeyConfiguration,
        now_ms: u64,
        by: &str,
    ) -> Option<AccessKeyConfiguration> {
        let mut next = current.clone();
        if let Some(name) = &self.name {
            next.name.clone_from(name);
        }
        for (field, change) in [
            (&mut next.description, &self.description),
            (&mut next.metadata, &self.metadata),
        ] {
            if let Some(value) = change {
                field.clone_from(value);
            }
        }
        if let Some(access) = &self.access {
            next.access.clone_from(access);
        }
        if let Some(router) = &self.router {
            next.router.clone_from(router);
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
mod tests;
