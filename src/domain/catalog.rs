//! The fixed vocabularies the registry validates against. Each lives in one table so that adding a
//! catalog provider, an API format or a surface is a one-line change.

/// Provider ids that belong to built-in catalog providers. A custom provider may not take one,
/// or model strings such as `openai:gpt-4o` would become ambiguous.
pub const RESERVED_PROVIDER_IDS: &[&str] = &[
    "openai",
    "open-ai",
    "anthropic",
    "google",
    "gemini",
    "deepseek",
    "openrouter",
    "hyperbolic",
    "inceptionlabs",
    "inference-net",
    "xai",
];

/// An API wire format and the surfaces (endpoint families) it defines.
pub struct ApiFormat {
    pub name: &'static str,
    pub surfaces: &'static [&'static str],
}

pub const API_FORMATS: &[ApiFormat] = &[
    ApiFormat {
        name: "openai",
        surfaces: &["chat-completions", "completions", "responses", "embeddings"],
    },
    ApiFormat {
        name: "anthropic",
        surfaces: &["messages", "count-tokens"],
    },
];

pub fn is_reserved_provider_id(id: &str) -> bool {
    RESERVED_PROVIDER_IDS.contains(&id)
}

pub fn api_format(name: &str) -> Option<&'static ApiFormat> {
    API_FORMATS.iter().find(|f| f.name == name)
}

/// `a`, `b`, `c` — for error messages that list what is allowed.
pub fn quoted_list(values: impl IntoIterator<Item = &'static str>) -> String {
    values
        .into_iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_name_is_unique_and_has_surfaces() {
        for (i, f) in API_FORMATS.iter().enumerate() {
            assert!(!f.surfaces.is_empty(), "{} has no surfaces", f.name);
            assert!(API_FORMATS[i + 1..].iter().all(|g| g.name != f.name));
        }
    }

    #[test]
    fn reserved_ids_are_themselves_well_formed_slugs() {
        for id in RESERVED_PROVIDER_IDS {
            assert!(crate::domain::ProviderSlug::parse_shape(id).is_ok(), "{id}");
        }
    }
}
