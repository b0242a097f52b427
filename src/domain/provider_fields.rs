//! The rules of a provider's own fields: base URL, API surfaces and their parameters, models.
//! Item types derive `Validate`; the checks that span a list (each pair or name once) are
//! custom rules keyed by the item the caller must change.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use validator::{Validate, ValidationError};

use super::catalog::{self, API_FORMATS};
use super::fields::check_length;
use super::provider::ApiSurface;
use super::rules::{
    self, MAX_BASE_URL_CHARS, MAX_MODELS, MAX_PARAMS_PER_SURFACE, MAX_SURFACES, MAX_TEXT_CHARS,
};
use super::validation::{at_paths, rule};
use super::wire::Object;

#[derive(Debug, Default, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "surface_rules", skip_on_field_errors = false))]
pub struct SurfaceInput {
    #[validate(required(message = "is required"), custom(function = "known_format"))]
    pub format: Option<String>,
    pub surface: Option<String>,
    #[validate(nested)]
    pub supported_params: Option<Vec<Object<ParamInput>>>,
}

#[derive(Debug, Default, Deserialize, Validate)]
pub struct ParamInput {
    #[validate(required(message = "is required"), custom(function = "param_name"))]
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct ModelInput {
    #[validate(required(message = "is required"), custom(function = "valid_model_id"))]
    pub model_id: Option<String>,
}

pub(super) fn valid_base_url(s: &str) -> Result<(), ValidationError> {
    rule("base_url", check_base_url(s))
}

/// Keeps the URL as the client wrote it (no normalisation surprises), once it is known to be
/// an absolute http(s) URL that carries no credentials and no fragment.
fn check_base_url(s: &str) -> Result<(), String> {
    check_length(s, 1, MAX_BASE_URL_CHARS)?;
    if s.trim() != s {
        return Err("must not have leading or trailing whitespace".into());
    }
    let url = url::Url::parse(s).map_err(|e| match e {
        // The one host rule a pattern cannot check.
        url::ParseError::IdnaError => "has an `xn--` host label that is not valid punycode (it \
             must encode an international name)"
            .to_owned(),
        _ => "must be an absolute http or https URL".to_owned(),
    })?;
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
    rules::check_host(s)?;
    static SHAPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&rules::base_url_shape()).expect("the base URL pattern compiles")
    });
    if !SHAPE.is_match(s) {
        return Err(
            "must be http(s)://host[:port][/path][?query] with a host name whose last \
             label starts with a letter or `_`, an IPv4 address or a bracketed IPv6 address, a port \
             from 0 to 65535 without leading zeros, and only unreserved, sub-delimiter, `:`, \
             `@`, `%`, `/` and `?` characters after it"
                .into(),
        );
    }
    Ok(())
}

fn known_format(format: &str) -> Result<(), ValidationError> {
    rule(
        "format",
        match catalog::api_format(format) {
            Some(_) => Ok(()),
            None => Err(format!(
                "must be one of {}",
                catalog::quoted_list(API_FORMATS.iter().map(|f| f.name))
            )),
        },
    )
}

/// A surface must be one of its format's (an unknown format is reported on its own), and its
/// parameters are at most 256 distinct names.
fn surface_rules(input: &SurfaceInput) -> Result<(), ValidationError> {
    let mut found = Vec::new();
    let known = input.format.as_deref().and_then(catalog::api_format);
    if let (Some(known), Some(surface)) = (known, input.surface.as_deref())
        && !known.surfaces.contains(&surface)
    {
        found.push((
            "surface".to_owned(),
            format!(
                "must be one of {} for format `{}`",
                catalog::quoted_list(known.surfaces.iter().copied()),
                known.name
            ),
        ));
    }
    if let Some(params) = &input.supported_params {
        found.extend(param_list_rules(params));
    }
    at_paths("surface", found)
}

fn param_name(name: &str) -> Result<(), ValidationError> {
    rule("param_name", check_length(name, 1, MAX_TEXT_CHARS))
}

fn param_list_rules(params: &[Object<ParamInput>]) -> Vec<(String, String)> {
    if let Some(too_many) = at_most("supportedParams", params.len(), MAX_PARAMS_PER_SURFACE) {
        return vec![too_many];
    }
    let names = params.iter().map(|p| {
        p.name
            .as_deref()
            .filter(|n| param_name(n).is_ok())
            .map(str::to_owned)
    });
    repeats(names, |first| {
        format!("repeats supportedParams[{first}].name: names must be unique")
    })
    .map(|i| format!("supportedParams[{i}].name"))
}

fn valid_model_id(s: &str) -> Result<(), ValidationError> {
    rule("model_id", check_model_id(s))
}

pub(super) fn check_model_id(s: &str) -> Result<(), String> {
    check_length(s, 1, MAX_TEXT_CHARS)?;
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters".into());
    }
    Ok(())
}

/// The rules of a provider's two lists as a whole: how long each may be, and which items
/// repeat an earlier one (keyed by the item to change). A list that is too long is reported
/// alone.
pub(super) fn list_rules(
    surfaces: Option<&[Object<SurfaceInput>]>,
    models: Option<&[Object<ModelInput>]>,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    if let Some(surfaces) = surfaces {
        match at_most("supportedApiSurfaces", surfaces.len(), MAX_SURFACES) {
            Some(too_many) => found.push(too_many),
            None => {
                let pairs = surfaces
                    .iter()
                    .map(|s| s.format.clone().map(|f| (f, s.surface.clone())));
                found.extend(
                    repeats(pairs, |first| {
                        format!(
                            "repeats supportedApiSurfaces[{first}]: each format and surface pair \
                             may appear once"
                        )
                    })
                    .map(|i| format!("supportedApiSurfaces[{i}]")),
                );
            }
        }
    }
    if let Some(models) = models {
        match at_most("models", models.len(), MAX_MODELS) {
            Some(too_many) => found.push(too_many),
            None => {
                let ids = models.iter().map(|m| {
                    m.model_id
                        .as_deref()
                        .filter(|id| check_model_id(id).is_ok())
                        .map(str::to_owned)
                });
                found.extend(
                    repeats(ids, |first| {
                        format!(
                            "repeats models[{first}].modelId: model ids must be unique within a \
                             provider"
                        )
                    })
                    .map(|i| format!("models[{i}].modelId")),
                );
            }
        }
    }
    found
}

/// A list's length rule, as a violation of `path` when it is broken.
fn at_most(path: &str, len: usize, max: usize) -> Option<(String, String)> {
    (len > max).then(|| {
        (
            path.to_owned(),
            format!("must have at most {max} entries (got {len})"),
        )
    })
}

/// For each item equal to an earlier one: its index and `message(index of the first)`.
struct Repeats(Vec<(usize, String)>);

impl Repeats {
    fn map(self, path: impl Fn(usize) -> String) -> Vec<(String, String)> {
        self.0.into_iter().map(|(i, m)| (path(i), m)).collect()
    }
}

fn repeats<K: std::hash::Hash + Eq>(
    items: impl Iterator<Item = Option<K>>,
    message: impl Fn(usize) -> String,
) -> Repeats {
    let mut seen: HashMap<K, usize> = HashMap::new();
    let mut found = Vec::new();
    for (i, item) in items.enumerate() {
        let Some(key) = item else { continue };
        match seen.get(&key) {
            Some(first) => found.push((i, message(*first))),
            None => {
                seen.insert(key, i);
            }
        }
    }
    Repeats(found)
}

/// Validated surfaces as stored.
pub(super) fn surfaces(inputs: Vec<Object<SurfaceInput>>) -> Vec<ApiSurface> {
    inputs
        .into_iter()
        .map(|Object(input)| ApiSurface {
            format: input.format.unwrap_or_default(),
            surface: input.surface,
            supported_params: input
                .supported_params
                .unwrap_or_default()
                .into_iter()
                .map(|Object(p)| p.name.unwrap_or_default())
                .collect(),
        })
        .collect()
}

/// Validated model ids in order.
pub(super) fn model_ids(inputs: Vec<Object<ModelInput>>) -> Vec<String> {
    inputs
        .into_iter()
        .map(|Object(m)| m.model_id.unwrap_or_default())
        .collect()
}
