use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;

use super::catalog::{self, API_FORMATS};
use super::fields::{
    MAX_TEXT_CHARS, check_length, parse_metadata, parse_name, patch_optional, patch_required,
    required, sent,
};
use super::wire::Object;
use super::{Violations, next_id, schema};

pub const MAX_BASE_URL_CHARS: usize = 2048;
pub const MAX_SURFACES: usize = 32;
pub const MAX_PARAMS_PER_SURFACE: usize = 256;
pub const MAX_MODELS: usize = 1000;

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
    pub fn create(new: NewProvider, now_ms: u64, by: &str) -> Provider {
        Provider {
            id: next_id(),
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
        }
    }

    /// A strong entity tag: unique per record and per version.
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id, self.version)
    }
}

/// The address segment of model strings (`providerId:modelId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderSlug(String);

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

// Required fields are `Option` so that every missing one is reported together with every
// other violation.
/// The body of `POST /providers`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
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
    pub provider_id: Option<String>,
    #[schema(required = true, schema_with = schema::name)]
    pub name: Option<String>,
    #[schema(required = true, schema_with = schema::base_url)]
    pub base_url: Option<String>,
    #[schema(schema_with = schema::metadata)]
    pub metadata: Option<String>,
    #[schema(schema_with = schema::surfaces)]
    pub supported_api_surfaces: Option<Vec<Object<SurfaceInput>>>,
    #[schema(schema_with = schema::models)]
    pub models: Option<Vec<Object<ModelInput>>>,
}

// The outer `Option` says whether the field was sent, the inner one whether it was `null`.
/// The body of `PATCH /providers/{id}`: fields left out keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "vLLM (new GPU)", "metadata": null,
                          "models": [{"modelId": "Qwen/Qwen2.5-7B-Instruct"}]}))]
pub struct UpdateProvider {
    /// Read only to refuse it with its own error: the schema leaves it out.
    #[serde(default, deserialize_with = "sent")]
    #[schema(ignore)]
    pub provider_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::name)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::base_url)]
    pub base_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::metadata)]
    pub metadata: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::surfaces)]
    pub supported_api_surfaces: Option<Option<Vec<Object<SurfaceInput>>>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::models)]
    pub models: Option<Option<Vec<Object<ModelInput>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SurfaceInput {
    pub format: Option<String>,
    pub surface: Option<String>,
    pub supported_params: Option<Vec<Object<ParamInput>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ParamInput {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInput {
    pub model_id: Option<String>,
}

/// Why a create or update body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    Invalid(Violations),
    ProviderIdReserved(String),
    ProviderIdImmutable,
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
}

impl NewProvider {
    pub fn parse(input: CreateProvider) -> Result<NewProvider, InputError> {
        let mut v = Violations::default();
        let provider_id = required(&mut v, "providerId", input.provider_id)
            .and_then(|s| v.check("providerId", ProviderSlug::parse_shape(&s)));
        let name =
            required(&mut v, "name", input.name).and_then(|s| v.check("name", parse_name(s)));
        let base_url = required(&mut v, "baseUrl", input.base_url)
            .and_then(|s| v.check("baseUrl", parse_base_url(s)));
        let metadata = input
            .metadata
            .and_then(|m| v.check("metadata", parse_metadata(m)));
        let surfaces = parse_surfaces(&mut v, input.supported_api_surfaces.unwrap_or_default());
        let model_ids = parse_models(&mut v, input.models.unwrap_or_default());

        let (Some(provider_id), Some(name), Some(base_url), true) =
            (provider_id, name, base_url, v.is_empty())
        else {
            return Err(InputError::Invalid(v));
        };
        if catalog::is_reserved_provider_id(provider_id.as_str()) {
            return Err(InputError::ProviderIdReserved(provider_id.0));
        }
        Ok(NewProvider {
            provider_id,
            name,
            base_url,
            metadata,
            surfaces,
            model_ids,
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
}

impl ProviderChanges {
    pub fn parse(input: UpdateProvider) -> Result<ProviderChanges, InputError> {
        if input.provider_id.is_some() {
            return Err(InputError::ProviderIdImmutable);
        }
        let mut v = Violations::default();
        let name = patch_required(&mut v, "name", input.name, parse_name);
        let base_url = patch_required(&mut v, "baseUrl", input.base_url, parse_base_url);
        let metadata = patch_optional(&mut v, "metadata", input.metadata, parse_metadata);
        let surfaces = input
            .supported_api_surfaces
            .map(|s| parse_surfaces(&mut v, s.unwrap_or_default()));
        let model_ids = input
            .models
            .map(|m| parse_models(&mut v, m.unwrap_or_default()));
        if !v.is_empty() {
            return Err(InputError::Invalid(v));
        }
        Ok(ProviderChanges {
            name,
            base_url,
            metadata,
            surfaces,
            model_ids,
        })
    }

    /// The record after the change, or `None` when the change alters nothing, so that
    /// `updatedAt`, `lastUpdatedBy` and the ETag move only on a real change. A model whose
    /// `modelId` was already present keeps its id.
    pub fn apply(&self, current: &Provider, now_ms: u64, by: &str) -> Option<Provider> {
        let mut next = current.clone();
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
            return None;
        }
        next.updated_at_ms = now_ms.max(current.updated_at_ms);
        next.last_updated_by = by.to_owned();
        next.version = current.version + 1;
        Some(next)
    }
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

/// Keeps the URL as the client wrote it (no normalisation surprises), once it is known to be
/// an absolute http(s) URL that carries no credentials and no fragment.
fn parse_base_url(s: String) -> Result<String, String> {
    check_length(&s, 1, MAX_BASE_URL_CHARS)?;
    if s.trim() != s {
        return Err("must not have leading or trailing whitespace".into());
    }
    let url =
        url::Url::parse(&s).map_err(|e| format!("must be an absolute http or https URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "must use the http or https scheme (got `{}`)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must have a host".into());
    }
    // The message must not repeat the credentials: they are what we refuse to store.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not contain credentials (user:password@); store keys as provider keys".into(),
        );
    }
    if url.fragment().is_some() {
        return Err("must not contain a fragment (`#...`)".into());
    }
    static SHAPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&schema::base_url_pattern()).expect("the base URL pattern compiles")
    });
    if !SHAPE.is_match(&s) {
        return Err(
            "must be http(s)://host[:port][/path][?query] with a host name whose last \
             label starts with a letter, an IPv4 address or a bracketed IPv6 address, a port \
             from 0 to 65535 without leading zeros, and only unreserved, sub-delimiter, `:`, \
             `@`, `%`, `/` and `?` characters after it"
                .into(),
        );
    }
    Ok(s)
}

fn parse_surfaces(v: &mut Violations, inputs: Vec<Object<SurfaceInput>>) -> Vec<ApiSurface> {
    if inputs.len() > MAX_SURFACES {
        v.add(
            "supportedApiSurfaces",
            format!(
                "must have at most {MAX_SURFACES} entries (got {})",
                inputs.len()
            ),
        );
    }
    let mut seen: HashMap<(String, Option<String>), usize> = HashMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, Object(input)) in inputs.into_iter().enumerate() {
        let path = format!("supportedApiSurfaces[{i}]");
        let format = required(v, &format!("{path}.format"), input.format);
        let known = format.as_deref().and_then(|f| {
            let known = catalog::api_format(f);
            if known.is_none() {
                v.add(
                    format!("{path}.format"),
                    format!(
                        "must be one of {}",
                        catalog::quoted_list(API_FORMATS.iter().map(|f| f.name))
                    ),
                );
            }
            known
        });
        if let (Some(known), Some(surface)) = (known, input.surface.as_deref())
            && !known.surfaces.contains(&surface)
        {
            v.add(
                format!("{path}.surface"),
                format!(
                    "must be one of {} for format `{}`",
                    catalog::quoted_list(known.surfaces.iter().copied()),
                    known.name
                ),
            );
        }
        let params = parse_params(v, &path, input.supported_params.unwrap_or_default());
        let Some(format) = format else { continue };
        if let Some(first) = seen.insert((format.clone(), input.surface.clone()), i) {
            v.add(
                path,
                format!("repeats supportedApiSurfaces[{first}]: each format and surface pair may appear once"),
            );
        }
        out.push(ApiSurface {
            format,
            surface: input.surface,
            supported_params: params,
        });
    }
    out
}

fn parse_params(
    v: &mut Violations,
    surface_path: &str,
    inputs: Vec<Object<ParamInput>>,
) -> Vec<String> {
    let path = format!("{surface_path}.supportedParams");
    if inputs.len() > MAX_PARAMS_PER_SURFACE {
        v.add(
            path.as_str(),
            format!(
                "must have at most {MAX_PARAMS_PER_SURFACE} entries (got {})",
                inputs.len()
            ),
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(inputs.len());
    for (i, Object(input)) in inputs.into_iter().enumerate() {
        let item = format!("{path}[{i}].name");
        let Some(name) = required(v, &item, input.name) else {
            continue;
        };
        if name.is_empty() {
            v.add(item, "must not be empty");
            continue;
        }
        if let Err(e) = check_length(&name, 1, MAX_TEXT_CHARS) {
            v.add(item, e);
            continue;
        }
        if let Some(first) = seen.insert(name.clone(), i) {
            v.add(
                item,
                format!("repeats {path}[{first}].name: names must be unique"),
            );
            continue;
        }
        out.push(name);
    }
    out
}

fn parse_model_id(s: String) -> Result<String, String> {
    check_length(&s, 1, MAX_TEXT_CHARS)?;
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters".into());
    }
    Ok(s)
}

fn parse_models(v: &mut Violations, inputs: Vec<Object<ModelInput>>) -> Vec<String> {
    if inputs.len() > MAX_MODELS {
        v.add(
            "models",
            format!(
                "must have at most {MAX_MODELS} entries (got {})",
                inputs.len()
            ),
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(inputs.len());
    let mut out = Vec::with_capacity(inputs.len());
    for (i, Object(input)) in inputs.into_iter().enumerate() {
        let path = format!("models[{i}].modelId");
        let Some(model_id) = required(v, &path, input.model_id)
            .and_then(|s| v.check(path.as_str(), parse_model_id(s)))
        else {
            continue;
        };
        if let Some(first) = seen.get(&model_id) {
            v.add(
                path,
                format!(
                    "repeats models[{first}].modelId: model ids must be unique within a provider"
                ),
            );
            continue;
        }
        seen.insert(model_id.clone(), i);
        out.push(model_id);
    }
    out
}
