//! The rules of a provider's own fields: base URL, API surfaces and their parameters, models.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::Violations;
use super::catalog::{self, API_FORMATS};
use super::fields::{check_length, required};
use super::provider::ApiSurface;
use super::rules::{
    self, MAX_BASE_URL_CHARS, MAX_MODELS, MAX_PARAMS_PER_SURFACE, MAX_SURFACES, MAX_TEXT_CHARS,
};
use super::wire::Object;

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

/// Keeps the URL as the client wrote it (no normalisation surprises), once it is known to be
/// an absolute http(s) URL that carries no credentials and no fragment.
pub(super) fn parse_base_url(s: String) -> Result<String, String> {
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
        Regex::new(&rules::base_url_pattern()).expect("the base URL pattern compiles")
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

pub(super) fn parse_surfaces(
    v: &mut Violations,
    inputs: Vec<Object<SurfaceInput>>,
) -> Vec<ApiSurface> {
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

pub(super) fn parse_models(v: &mut Violations, inputs: Vec<Object<ModelInput>>) -> Vec<String> {
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
