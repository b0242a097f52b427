//! The bodies that create and change a provider, and their parsing into trusted values.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use ulid::Ulid;
use utoipa::ToSchema;

use validator::{Validate, ValidationError};

use super::catalog;
use super::fields::{self, cleared, sent, sent_whole, whole};
use super::provider::{ApiSurface, InputError, Model, Provider, ProviderSlug, valid_provider_id};
use super::provider_fields::{
    ModelInput, SurfaceInput, list_rules, model_ids, surfaces, valid_base_url,
};
use super::rules::CONCURRENCY;
use super::settings::{self, NetworkBody, ProxyBody, Settings, SettingsChanges, path_overrides};
use super::validation::at_paths;
use super::wire::Object;
use super::{Input, Violations, next_id, schema};
use crate::secrets::{CryptoError, MasterKey};

// Required fields are `Option` so that every missing one is reported together with every
// other violation.
/// The body of `POST /providers`.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "create_lists", skip_on_field_errors = false))]
#[schema(example = json!({
    "providerId": "local-vllm",
    "name": "vLLM on the GPU box",
    "baseUrl": "http://10.0.0.5:8000/v1",
    "metadata": "rack 2",
    "supportedApiSurfaces": [{"format": "openai", "surface": "chat-completions",
                              "supportedParams": [{"name": "temperature"}]}],
    "models": [{"modelId": "meta-llama/Llama-3.1-8B-Instruct"}]
}))]
pub struct CreateProvider {
    #[schema(required = true, schema_with = schema::provider_id)]
    #[validate(
        required(message = "is required"),
        custom(function = "valid_provider_id")
    )]
    pub provider_id: Option<String>,
    #[schema(required = true, schema_with = schema::name)]
    #[validate(required(message = "is required"), custom(function = "fields::name"))]
    pub name: Option<String>,
    #[schema(required = true, schema_with = schema::base_url)]
    #[validate(required(message = "is required"), custom(function = "valid_base_url"))]
    pub base_url: Option<String>,
    #[schema(schema_with = schema::metadata)]
    #[validate(custom(function = "fields::metadata"))]
    pub metadata: Option<String>,
    #[schema(schema_with = schema::surfaces)]
    #[validate(nested)]
    pub supported_api_surfaces: Option<Vec<Object<SurfaceInput>>>,
    #[schema(schema_with = schema::models)]
    #[validate(nested)]
    pub models: Option<Vec<Object<ModelInput>>>,
    #[schema(schema_with = schema::network)]
    #[validate(nested)]
    pub network: Option<Object<NetworkBody>>,
    #[schema(schema_with = schema::proxy)]
    #[validate(nested)]
    pub proxy: Option<Object<ProxyBody>>,
    #[serde(default, deserialize_with = "whole")]
    #[schema(schema_with = schema::concurrency)]
    #[validate(range(min = "CONCURRENCY.min", max = "CONCURRENCY.max"))]
    pub concurrency: Option<u32>,
    #[serde(default, deserialize_with = "whole")]
    #[schema(schema_with = schema::buffer_size)]
    #[validate(range(min = "CONCURRENCY.min", max = "CONCURRENCY.max"))]
    pub buffer_size: Option<u32>,
    #[schema(schema_with = schema::keyless)]
    pub keyless: Option<bool>,
    #[schema(schema_with = schema::request_path_overrides)]
    #[validate(custom(function = "path_overrides"))]
    pub request_path_overrides: Option<BTreeMap<String, String>>,
    #[schema(schema_with = schema::allow_private_network)]
    pub allow_private_network: Option<bool>,
}

fn create_lists(input: &CreateProvider) -> Result<(), ValidationError> {
    let mut found = list_rules(
        input.supported_api_surfaces.as_deref(),
        input.models.as_deref(),
    );
    found.extend(buffer_rule(input.concurrency, input.buffer_size, true));
    at_paths("lists", found)
}

/// `bufferSize` against `concurrency` as the body sends them (a PATCH's result is checked
/// again against the stored record).
fn buffer_rule(
    concurrency: Option<u32>,
    buffer_size: Option<u32>,
    whole: bool,
) -> Option<(String, String)> {
    settings::buffer_rule(concurrency, buffer_size, whole).map(|why| ("bufferSize".to_owned(), why))
}

// The outer `Option` says whether the field was sent, the inner one whether it was `null`.
/// The body of `PATCH /providers/{id}`: fields left out keep their value.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "keeps_required_fields", skip_on_field_errors = false))]
#[schema(example = json!({"name": "vLLM (new GPU)", "metadata": null,
                          "models": [{"modelId": "Qwen/Qwen2.5-7B-Instruct"}]}))]
pub struct UpdateProvider {
    /// Read only to refuse it with its own error: the schema leaves it out.
    #[serde(default, deserialize_with = "sent")]
    #[schema(ignore)]
    pub provider_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::name)]
    #[validate(custom(function = "fields::name"))]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::base_url)]
    #[validate(custom(function = "valid_base_url"))]
    pub base_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::metadata)]
    #[validate(custom(function = "fields::metadata"))]
    pub metadata: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::surfaces)]
    #[validate(nested)]
    pub supported_api_surfaces: Option<Option<Vec<Object<SurfaceInput>>>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::models)]
    #[validate(nested)]
    pub models: Option<Option<Vec<Object<ModelInput>>>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::network)]
    #[validate(nested)]
    pub network: Option<Option<Object<NetworkBody>>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::proxy)]
    #[validate(nested)]
    pub proxy: Option<Option<Object<ProxyBody>>>,
    #[serde(default, deserialize_with = "sent_whole")]
    #[schema(schema_with = schema::concurrency)]
    #[validate(range(min = "CONCURRENCY.min", max = "CONCURRENCY.max"))]
    pub concurrency: Option<Option<u32>>,
    #[serde(default, deserialize_with = "sent_whole")]
    #[schema(schema_with = schema::buffer_size)]
    #[validate(range(min = "CONCURRENCY.min", max = "CONCURRENCY.max"))]
    pub buffer_size: Option<Option<u32>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::keyless)]
    pub keyless: Option<Option<bool>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::request_path_overrides)]
    #[validate(custom(function = "path_overrides"))]
    pub request_path_overrides: Option<Option<BTreeMap<String, String>>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::allow_private_network)]
    pub allow_private_network: Option<Option<bool>>,
}

/// `name` and `baseUrl` may change, never be cleared; the lists' rules as on create.
fn keeps_required_fields(input: &UpdateProvider) -> Result<(), ValidationError> {
    let mut found = cleared(&[
        ("name", matches!(input.name, Some(None))),
        ("baseUrl", matches!(input.base_url, Some(None))),
    ]);
    found.extend(list_rules(
        input
            .supported_api_surfaces
            .as_ref()
            .and_then(|s| s.as_deref()),
        input.models.as_ref().and_then(|m| m.as_deref()),
    ));
    found.extend(buffer_rule(
        input.concurrency.flatten(),
        input.buffer_size.flatten(),
        false,
    ));
    at_paths("patch", found)
}

/// A create request that obeys every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProvider {
    pub provider_id: ProviderSlug,
    pub name: String,
    pub base_url: String,
    pub metadata: Option<String>,
    pub surfaces: Vec<ApiSurface>,
    pub model_ids: Vec<String>,
    pub settings: SettingsChanges,
}

impl NewProvider {
    /// Parses a body, reporting its violations together with those the reading of it found
    /// (wrong types, unknown or repeated fields; none for a plain value).
    pub fn parse(input: impl Into<Input<CreateProvider>>) -> Result<NewProvider, InputError> {
        let (input, v) = input.into().checked();
        let provider_id = input
            .provider_id
            .and_then(|s| ProviderSlug::parse_shape(&s).ok());
        let (Some(provider_id), Some(name), Some(base_url), true) =
            (provider_id, input.name, input.base_url, v.is_empty())
        else {
            return Err(InputError::Invalid(v));
        };
        if catalog::is_reserved_provider_id(provider_id.as_str()) {
            return Err(InputError::ProviderIdReserved(
                provider_id.as_str().to_owned(),
            ));
        }
        Ok(NewProvider {
            provider_id,
            name,
            base_url,
            metadata: input.metadata,
            surfaces: surfaces(input.supported_api_surfaces.unwrap_or_default()),
            model_ids: model_ids(input.models.unwrap_or_default()),
            settings: SettingsChanges {
                network: input.network.map(|n| Some(n.0.into_input())),
                proxy: input.proxy.map(|p| Some(p.0.into_input())),
                concurrency: input.concurrency.map(Some),
                buffer_size: input.buffer_size.map(Some),
                keyless: input.keyless.map(Some),
                path_overrides: input.request_path_overrides.map(Some),
                allow_private_network: input.allow_private_network.map(Some),
            },
        })
    }
}

/// A parsed PATCH: `None` keeps a field, `Some` replaces it (`Some(None)` clears an optional one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderChanges {
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub metadata: Option<Option<String>>,
    pub surfaces: Option<Vec<ApiSurface>>,
    pub model_ids: Option<Vec<String>>,
    pub settings: SettingsChanges,
}

impl ProviderChanges {
    /// Like [`NewProvider::parse`], for a PATCH body.
    pub fn parse(input: impl Into<Input<UpdateProvider>>) -> Result<ProviderChanges, InputError> {
        let input = input.into();
        if input.value.provider_id.is_some() {
            return Err(InputError::ProviderIdImmutable);
        }
        let (input, v) = input.checked();
        if !v.is_empty() {
            return Err(InputError::Invalid(v));
        }
        Ok(ProviderChanges {
            name: input.name.flatten(),
            base_url: input.base_url.flatten(),
            metadata: input.metadata,
            surfaces: input
                .supported_api_surfaces
                .map(|s| surfaces(s.unwrap_or_default())),
            model_ids: input.models.map(|m| model_ids(m.unwrap_or_default())),
            settings: SettingsChanges {
                network: input.network.map(|n| n.map(|n| n.0.into_input())),
                proxy: input.proxy.map(|p| p.map(|p| p.0.into_input())),
                concurrency: input.concurrency,
                buffer_size: input.buffer_size,
                keyless: input.keyless,
                path_overrides: input.request_path_overrides,
                allow_private_network: input.allow_private_network,
            },
        })
    }

    /// The record after the change, or `None` when the change alters nothing, so that
    /// `updatedAt`, `lastUpdatedBy` and the ETag move only on a real change. A model whose
    /// `modelId` was already present keeps its id. The settings' rules that span fields are
    /// checked against the record as it would be.
    pub fn apply(
        &self,
        current: &Provider,
        now_ms: u64,
        by: &str,
    ) -> Result<Option<Provider>, Violations> {
        let mut next = current.clone();
        next.settings = self.settings.apply(&current.settings)?;
        if let Some(name) = &self.name {
            next.name.clone_from(name);
        }
        if let Some(base_url) = &self.base_url {
            next.base_url.clone_from(base_url);
        }
        if let Some(metadata) = &self.metadata {
            next.metadata.clone_from(metadata);
        }
        if let Some(surfaces) = &self.surfaces {
            next.surfaces.clone_from(surfaces);
        }
        if let Some(model_ids) = &self.model_ids {
            let known: HashMap<&str, Ulid> = current
                .models
                .iter()
                .map(|m| (m.model_id.as_str(), m.id))
                .collect();
            next.models = model_ids
                .iter()
                .map(|model_id| Model {
                    id: known
                        .get(model_id.as_str())
                        .copied()
                        .unwrap_or_else(next_id),
                    model_id: model_id.clone(),
                })
                .collect();
        }
        if next == *current {
            return Ok(None);
        }
        next.updated_at_ms = now_ms.max(current.updated_at_ms);
        next.last_updated_by = by.to_owned();
        next.version = current.version + 1;
        Ok(Some(next))
    }
}

impl Provider {
    /// A new record; a proxy password in `new` is sealed for the record's id.
    pub fn create(
        mut new: NewProvider,
        master: &MasterKey,
        now_ms: u64,
        by: &str,
    ) -> Result<Provider, CreateError> {
        let id = next_id();
        new.settings.seal(master, id)?;
        let settings = new
            .settings
            .apply(&Settings::default())
            .map_err(|v| CreateError::Invalid(InputError::Invalid(v)))?;
        Ok(Provider {
            id,
            provider_id: new.provider_id,
            name: new.name,
            base_url: new.base_url,
            metadata: new.metadata,
            surfaces: new.surfaces,
            models: new
                .model_ids
                .into_iter()
                .map(|model_id| Model {
                    id: next_id(),
                    model_id,
                })
                .collect(),
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            created_by: by.to_owned(),
            last_updated_by: by.to_owned(),
            version: 1,
            settings,
        })
    }
}

/// Why a provider record could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("invalid provider")]
    Invalid(InputError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}
