//! Model aliases (`/model-aliases`, modelgate's extension): a model name apps send (`alias`)
//! that calls route to another model string (`target`), then to the alias's own `fallbacks`,
//! so an app that hard-codes `gpt-4o` reaches `local:qwen2.5:7b` without a change.
//!
//! Names match as calls match model ids: ignoring case ([`fold`]). Resolving is one level
//! deep by construction: no alias's target or fallback is an alias, and no alias is named as
//! another's target or fallback ([`check_against`], against what the registry holds).

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::fields::{self, cleared, sent};
use super::provider_fields::check_model_id;
use super::rules::MAX_ALIAS_FALLBACKS;
use super::validation::{at_paths, rule};
use super::{Input, Violations, next_id, schema, version_tag};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelAlias {
    pub id: Ulid,
    pub alias: String,
    pub target: String,
    pub fallbacks: Vec<String>,
    pub description: Option<String>,
    pub metadata: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub created_by: String,
    pub last_updated_by: String,
    pub version: u64,
}

impl ModelAlias {
    pub fn etag(&self) -> String {
        version_tag(self.id, self.version)
    }
}

/// How names compare: as the routing table folds model ids.
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// The body of `POST /model-aliases`.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "create_lists", skip_on_field_errors = false))]
#[schema(example = json!({"alias": "gpt-4o", "target": "local:qwen2.5:7b",
    "fallbacks": ["openai:gpt-4o-mini"]}))]
pub struct CreateModelAlias {
    #[schema(required = true, schema_with = schema::model_alias)]
    #[validate(required(message = "is required"), custom(function = "model_string"))]
    pub alias: Option<String>,
    #[schema(required = true, schema_with = schema::alias_target)]
    #[validate(required(message = "is required"), custom(function = "model_string"))]
    pub target: Option<String>,
    #[schema(schema_with = schema::alias_fallbacks)]
    pub fallbacks: Option<Vec<String>>,
    #[schema(schema_with = schema::description)]
    #[validate(custom(function = "fields::description"))]
    pub description: Option<String>,
    #[schema(schema_with = schema::metadata)]
    #[validate(custom(function = "fields::metadata"))]
    pub metadata: Option<String>,
}

/// The body of `PATCH /model-aliases/{id}`: omitted keeps, `null` clears (`fallbacks: null`
/// is `[]`; `alias` and `target` cannot be cleared); `fallbacks` is replaced whole.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "update_lists", skip_on_field_errors = false))]
pub struct UpdateModelAlias {
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::model_alias)]
    #[validate(custom(function = "model_string"))]
    pub alias: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::alias_target)]
    #[validate(custom(function = "model_string"))]
    pub target: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::alias_fallbacks)]
    pub fallbacks: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::description)]
    #[validate(custom(function = "fields::description"))]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::metadata)]
    #[validate(custom(function = "fields::metadata"))]
    pub metadata: Option<Option<String>>,
}

fn model_string(s: &str) -> Result<(), ValidationError> {
    rule("model", check_model_id(s))
}

/// `fallbacks`: at most [`MAX_ALIAS_FALLBACKS`] model strings.
fn fallback_rules(list: Option<&[String]>) -> Vec<(String, String)> {
    let Some(list) = list else {
        return Vec::new();
    };
    if list.len() > MAX_ALIAS_FALLBACKS {
        return vec![(
            "fallbacks".to_owned(),
            format!(
                "must have at most {MAX_ALIAS_FALLBACKS} entries (got {})",
                list.len()
            ),
        )];
    }
    list.iter()
        .enumerate()
        .filter_map(|(i, m)| {
            check_model_id(m)
                .err()
                .map(|e| (format!("fallbacks[{i}]"), e))
        })
        .collect()
}

fn create_lists(input: &CreateModelAlias) -> Result<(), ValidationError> {
    at_paths("fallbacks", fallback_rules(input.fallbacks.as_deref()))
}

fn update_lists(input: &UpdateModelAlias) -> Result<(), ValidationError> {
    let mut found = cleared(&[
        ("alias", matches!(input.alias, Some(None))),
        ("target", matches!(input.target, Some(None))),
    ]);
    found.extend(fallback_rules(
        input.fallbacks.as_ref().and_then(|f| f.as_deref()),
    ));
    at_paths("patch", found)
}

/// A parsed create body.
pub struct NewModelAlias {
    pub alias: String,
    pub target: String,
    pub fallbacks: Vec<String>,
    pub description: Option<String>,
    pub metadata: Option<String>,
}

impl NewModelAlias {
    /// Parses a body with the violations its reading found (see [`crate::domain::NewProvider::parse`]).
    pub fn parse(input: impl Into<Input<CreateModelAlias>>) -> Result<NewModelAlias, Violations> {
        let (input, v) = input.into().checked();
        if !v.is_empty() {
            return Err(v);
        }
        Ok(NewModelAlias {
            alias: input.alias.unwrap_or_default(),
            target: input.target.unwrap_or_default(),
            fallbacks: input.fallbacks.unwrap_or_default(),
            description: input.description,
            metadata: input.metadata,
        })
    }

    pub fn into_alias(self, now_ms: u64, by: &str) -> ModelAlias {
        ModelAlias {
            id: next_id(),
            alias: self.alias,
            target: self.target,
            fallbacks: self.fallbacks,
            description: self.description,
            metadata: self.metadata,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            created_by: by.to_owned(),
            last_updated_by: by.to_owned(),
            version: 1,
        }
    }
}

/// A parsed PATCH: each field `None` when left out.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ModelAliasChanges {
    pub alias: Option<String>,
    pub target: Option<String>,
    pub fallbacks: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub metadata: Option<Option<String>>,
}

impl ModelAliasChanges {
    /// Parses a body with the violations its reading found.
    pub fn parse(
        input: impl Into<Input<UpdateModelAlias>>,
    ) -> Result<ModelAliasChanges, Violations> {
        let (input, v) = input.into().checked();
        if !v.is_empty() {
            return Err(v);
        }
        Ok(ModelAliasChanges {
            alias: input.alias.flatten(),
            target: input.target.flatten(),
            fallbacks: input.fallbacks.map(Option::unwrap_or_default),
            description: input.description,
            metadata: input.metadata,
        })
    }

    /// The record after the change, or `None` when it changes nothing.
    pub fn apply(&self, current: &ModelAlias, now_ms: u64, by: &str) -> Option<ModelAlias> {
        let mut next = current.clone();
        if let Some(alias) = &self.alias {
            next.alias.clone_from(alias);
        }
        if let Some(target) = &self.target {
            next.target.clone_from(target);
        }
        if let Some(fallbacks) = &self.fallbacks {
            next.fallbacks.clone_from(fallbacks);
        }
        for (field, change) in [
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

/// What the registry knows when an alias is written: the providers and the other aliases.
pub trait KnownNames {
    /// A registered `providerId` or a catalog id: what a `providerId:` prefix may name.
    fn provider_id(&self, slug: &str) -> bool;
    /// The alias, other than `except`, whose folded name is `folded`.
    fn alias_named(&self, folded: &str, except: Ulid) -> Option<String>;
    /// An alias, other than `except`, whose target or a fallback is `folded` (folded).
    fn pointing_at(&self, folded: &str, except: Ulid) -> Option<String>;
}

/// Why an alias as it would be stored is refused by what else is registered.
#[derive(Debug, PartialEq)]
pub enum AliasRefusal {
    /// A rule that spans records: every violation found.
    Invalid(Violations),
    /// Another alias has this name (in any case).
    Taken(String),
}

/// The rules of `record` against the providers and other aliases `known` holds: no shadowing
/// of a `providerId:` name, no alias pointing at an alias (either way), no qualified name
/// without a model, and a name no other alias has (checked last: a 409 only for a body that
/// is otherwise right).
pub fn check_against(record: &ModelAlias, known: &dyn KnownNames) -> Result<(), AliasRefusal> {
    let mut v = Violations::default();
    let own = fold(&record.alias);
    if let Some((prefix, _)) = record.alias.split_once(':')
        && known.provider_id(prefix)
    {
        v.add(
            "alias",
            format!(
                "must not start with `{prefix}:`: `{prefix}` is a registered providerId or \
                 catalog id, so `{prefix}:…` already names that provider's model"
            ),
        );
    }
    if let Some(other) = known.pointing_at(&own, record.id) {
        v.add(
            "alias",
            format!(
                "is the target or a fallback of alias `{other}`; an alias cannot be what \
                 another alias points at"
            ),
        );
    }
    let points = std::iter::once(("target".to_owned(), &record.target)).chain(
        record
            .fallbacks
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("fallbacks[{i}]"), m)),
    );
    for (path, model) in points {
        let folded = fold(model);
        if folded == own {
            v.add(path, "must not be the alias itself");
        } else if let Some(other) = known.alias_named(&folded, record.id) {
            v.add(
                path,
                format!(
                    "names alias `{other}`; an alias must point at a model, not at another alias"
                ),
            );
        } else if let Some((prefix, "")) = model.split_once(':')
            && known.provider_id(prefix)
        {
            v.add(path, format!("names no model after `{prefix}:`"));
        }
    }
    if !v.is_empty() {
        return Err(AliasRefusal::Invalid(v));
    }
    match known.alias_named(&own, record.id) {
        Some(other) => Err(AliasRefusal::Taken(other)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
