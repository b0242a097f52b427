//! The upstream request of one attempt: where it goes (the base URL joined with the surface's
//! path, or the provider's own path for it), which headers go (the provider's credential in
//! its format's header, never the caller's), and which of the answer's headers come back.

use super::super::error::{Code, GatewayError};
use crate::domain::surface::Format;

/// The Anthropic API version sent when the caller names none.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// The upstream URL of a surface: the base URL's path (`/v1` when it has none) joined with
/// the surface's, duplicate slashes collapsed, the base URL's query kept (Azure's
/// `api-version`). The caller's own query is never forwarded.
pub fn join(base_url: &str, surface_path: &str) -> Result<url::Url, GatewayError> {
    let mut url = url::Url::parse(base_url).map_err(|_| {
        GatewayError::new(
            Code::InvalidBaseUrl,
            "the provider's base URL cannot be parsed",
        )
    })?;
    let base = url.path().trim_end_matches('/');
    let base = if base.is_empty() { "/v1" } else { base };
    let mut path = String::with_capacity(base.len() + surface_path.len());
    for c in base.chars().chain(surface_path.chars()) {
        if !(c == '/' && path.ends_with('/')) {
            path.push(c);
        }
    }
    url.set_path(&path);
    Ok(url)
}

/// A surface's URL when the provider mounts it at its own absolute `path`: the base URL's
/// scheme, host, port and query, and that path.
pub fn overridden(base_url: &str, path: &str) -> Result<url::Url, GatewayError> {
    let mut url = join(base_url, "/")?;
    url.set_path(path);
    Ok(url)
}

/// Caller headers a provider may need, by name as received.
#[derive(Debug, Default, Clone)]
pub struct Passed {
    pub anthropic_version: Option<String>,
    pub anthropic_beta: Option<String>,
    pub accept: Option<String>,
}

/// The upstream request's headers: content type, the caller's protocol headers that matter,
/// and the provider's credential in its format's header. Nothing else of the caller's goes:
/// not its credential, cookies or hop-by-hop headers.
pub fn headers(
    format: Format,
    key: Option<&str>,
    passed: &Passed,
) -> Result<reqwest::header::HeaderMap, GatewayError> {
    use reqwest::header::{
        ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue,
    };
    let value = |v: &str| {
        HeaderValue::from_str(v).map_err(|_| {
            GatewayError::new(
                Code::UnusableKey,
                "a value for the upstream request is not a valid header value",
            )
        })
    };
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(ACCEPT_ENCODING, super::decode::OFFERED);
    if let Some(accept) = &passed.accept {
        h.insert(ACCEPT, value(accept)?);
    }
    match format {
        Format::OpenAi => {
            if let Some(key) = key {
                let mut auth = value(&format!("Bearer {key}"))?;
                auth.set_sensitive(true);
                h.insert(AUTHORIZATION, auth);
            }
        }
        Format::Anthropic => {
            if let Some(key) = key {
                let mut auth = value(key)?;
                auth.set_sensitive(true);
                h.insert("x-api-key", auth);
            }
            let version = passed
                .anthropic_version
                .as_deref()
                .unwrap_or(DEFAULT_ANTHROPIC_VERSION);
            h.insert("anthropic-version", value(version)?);
            if let Some(beta) = &passed.anthropic_beta {
                h.insert("anthropic-beta", value(beta)?);
            }
        }
    }
    Ok(h)
}

/// Whether an upstream answer header goes back to the caller: its content type and what
/// tells a client when to retry.
pub fn returned(name: &str) -> bool {
    name == "content-type"
        || name == "retry-after"
        || name == "retry-after-ms"
        || name.starts_with("x-ratelimit-")
        || name.starts_with("anthropic-ratelimit-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_and_surface_paths_join_into_one_versioned_path() {
        let cases = [
            (
                "http://h:11434",
                "/chat/completions",
                "http://h:11434/v1/chat/completions",
            ),
            (
                "http://h:11434/",
                "/embeddings",
                "http://h:11434/v1/embeddings",
            ),
            (
                "http://h/v1",
                "/chat/completions",
                "http://h/v1/chat/completions",
            ),
            ("http://h/v1/", "/messages", "http://h/v1/messages"),
            (
                "https://api.anthropic.com/v1",
                "/messages/count_tokens",
                "https://api.anthropic.com/v1/messages/count_tokens",
            ),
            (
                "http://h//openai//v1//",
                "/responses",
                "http://h/openai/v1/responses",
            ),
            (
                "https://x.openai.azure.com/openai/deployments/gpt?api-version=2024-06-01",
                "/chat/completions",
                "https://x.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-06-01",
            ),
            (
                "http://[::1]:8000/api/v1",
                "/completions",
                "http://[::1]:8000/api/v1/completions",
            ),
        ];
        for (base, path, want) in cases {
            assert_eq!(join(base, path).unwrap().as_str(), want, "{base} + {path}");
        }
    }

    #[test]
    fn the_provider_key_goes_in_its_formats_header_and_nothing_of_the_callers() {
        let passed = Passed {
            anthropic_version: Some("2026-10-21".into()),
            anthropic_beta: Some("tools-2024".into()),
            accept: None,
        };
        let h = headers(Format::OpenAi, Some("sk-upstream"), &passed).unwrap();
        assert_eq!(h["authorization"], "Bearer sk-upstream");
        assert!(h.get("x-api-key").is_none() && h.get("anthropic-version").is_none());
        let h = headers(Format::Anthropic, Some("sk-ant"), &passed).unwrap();
        assert_eq!(h["x-api-key"], "sk-ant");
        assert!(h.get("authorization").is_none());
        assert_eq!(h["anthropic-version"], "2026-10-21");
        assert_eq!(h["anthropic-beta"], "tools-2024");
        let h = headers(Format::Anthropic, None, &Passed::default()).unwrap();
        assert_eq!(h["anthropic-version"], DEFAULT_ANTHROPIC_VERSION);
        assert!(h.get("x-api-key").is_none());
        assert!(headers(Format::OpenAi, Some("bad\nkey"), &passed).is_err());
    }

    #[test]
    fn only_content_type_and_rate_limit_headers_come_back() {
        for name in [
            "content-type",
            "retry-after",
            "retry-after-ms",
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-tokens-reset",
        ] {
            assert!(returned(name), "{name}");
        }
        for name in [
            "set-cookie",
            "connection",
            "server",
            "www-authenticate",
            "content-length",
        ] {
            assert!(!returned(name), "{name}");
        }
    }
}
