//! The fixed vocabularies the registry validates against. Each lives in one table so that adding a
//! catalog provider, an API format or a surface is a one-line change.

/// A built-in provider: its id (reserved: a custom provider may not take one, or model strings
/// such as `openai:gpt-4o` would become ambiguous), the API format it speaks, and its public
/// base URL (which `[catalog.<id>] base_url` in the config file can override).
pub struct CatalogProvider {
    pub id: &'static str,
    pub format: &'static str,
    pub base_url: &'static str,
}

const fn entry(id: &'static str, format: &'static str, base_url: &'static str) -> CatalogProvider {
    CatalogProvider {
        id,
        format,
        base_url,
    }
}

pub const CATALOG: &[CatalogProvider] = &[
    entry("openai", "openai", "https://api.openai.com/v1"),
    entry("open-ai", "openai", "https://api.openai.com/v1"),
    entry("anthropic", "anthropic", "https://api.anthropic.com/v1"),
    entry(
        "google",
        "openai",
        "https://generativelanguage.googleapis.com/v1beta/openai",
    ),
    entry(
        "gemini",
        "openai",
        "https://generativelanguage.googleapis.com/v1beta/openai",
    ),
    entry("deepseek", "openai", "https://api.deepseek.com/v1"),
    entry("openrouter", "openai", "https://openrouter.ai/api/v1"),
    entry("hyperbolic", "openai", "https://api.hyperbolic.xyz/v1"),
    entry("inceptionlabs", "openai", "https://api.inceptionlabs.ai/v1"),
    entry("inference-net", "openai", "https://api.inference.net/v1"),
    entry("xai", "openai", "https://api.x.ai/v1"),
];

/// The catalog's ids, which custom providers may not take.
pub fn reserved_provider_ids() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|c| c.id)
}

pub fn catalog_provider(id: &str) -> Option<&'static CatalogProvider> {
    CATALOG.iter().find(|c| c.id == id)
}

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
    catalog_provider(id).is_some()
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
    fn catalog_entries_are_well_formed_unique_and_speak_a_known_format() {
        for (i, c) in CATALOG.iter().enumerate() {
            assert!(
                crate::domain::ProviderSlug::parse_shape(c.id).is_ok(),
                "{}",
                c.id
            );
            assert!(CATALOG[i + 1..].iter().all(|d| d.id != c.id), "{}", c.id);
            assert!(api_format(c.format).is_some(), "{}", c.id);
            assert!(c.base_url.starts_with("https://"), "{}", c.id);
        }
    }
}
