//! The body of AgentStack's create, as its `CreateModelProviderRequest` reads it, in the ngrok
//! API's terms: a create body for the provider, one for the key `api_key` becomes, and what
//! the extension keeps (`type`, `description`, the watsonx ids).

use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::types::{self, TYPES};
use crate::domain::Violations;
use crate::domain::extension::Extension;

#[derive(Default, Deserialize)]
pub struct Body {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub base_url: Option<String>,
    /// Never in a `Debug` rendering, never echoed in an error.
    pub api_key: Option<Zeroizing<String>>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub watsonx_project_id: Option<String>,
    pub watsonx_space_id: Option<String>,
}

/// AgentStack's `base_url` length rule (a URL of at most 2083 characters).
const MAX_URL_CHARS: usize = 2083;

pub struct Translated {
    pub kind: String,
    pub base_url: String,
    pub ngrok: Value,
    pub key: Value,
    pub extension: Extension,
}

/// The body in the ngrok API's terms; `v` gets what is wrong in AgentStack's.
pub fn translate(body: Body, v: &mut Violations) -> Translated {
    let kind = body.kind.clone().unwrap_or_default();
    match body.kind.as_deref() {
        None => v.add("type", "is required"),
        Some(k) if !TYPES.contains(&k) => v.add(
            "type",
            format!("must be one of {} (got `{k}`)", TYPES.join(", ")),
        ),
        Some(_) => {}
    }
    let base_url = body.base_url.clone().unwrap_or_default();
    match body.base_url.as_deref().map(|u| u.chars().count()) {
        None => v.add("base_url", "is required"),
        Some(n) if n == 0 || n > MAX_URL_CHARS => v.add(
            "base_url",
            format!("must be 1 to {MAX_URL_CHARS} characters (got {n})"),
        ),
        Some(_) => {}
    }
    let api_key = body.api_key.unwrap_or_default();
    if api_key.is_empty() {
        v.add("api_key", "is required");
    }
    if kind == "watsonx" && body.watsonx_project_id.is_some() == body.watsonx_space_id.is_some() {
        v.add(
            "watsonx_project_id",
            "a watsonx provider needs either watsonx_project_id or watsonx_space_id, not both",
        );
    }
    let name = body.name.clone().filter(|n| !n.is_empty());
    // A providerId of its type and a fresh suffix: AgentStack names providers by id only.
    let suffix = ulid::Ulid::new().to_string().to_ascii_lowercase();
    let provider_id = format!("{kind}-{}", &suffix[suffix.len() - 10..]);
    let surfaces: Vec<Value> = types::surfaces(&kind)
        .into_iter()
        .map(|(format, surface)| match surface {
            Some(surface) => json!({"format": format, "surface": surface}),
            None => json!({"format": format}),
        })
        .collect();
    let ngrok = json!({
        "providerId": provider_id,
        "name": name.clone().unwrap_or_else(|| kind.clone()),
        "baseUrl": base_url,
        "supportedApiSurfaces": surfaces,
    });
    let key = json!({
        "providerId": provider_id,
        "name": "api_key",
        "value": api_key.as_str(),
    });
    Translated {
        extension: Extension {
            description: body.description,
            agentstack_type: Some(kind.clone()),
            watsonx_project_id: body.watsonx_project_id,
            watsonx_space_id: body.watsonx_space_id,
            ..Extension::default()
        },
        kind,
        base_url,
        ngrok,
        key,
    }
}

/// The ngrok bodies' field paths in AgentStack's terms.
pub fn agentstack_path(path: &str) -> String {
    match path {
        "baseUrl" => "base_url".to_owned(),
        "value" => "api_key".to_owned(),
        "name" => "name".to_owned(),
        "providerId" => "type".to_owned(),
        other => other.to_owned(),
    }
}
