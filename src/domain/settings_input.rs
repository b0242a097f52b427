//! The settings' request shapes and their rules, as `validator` derives: every violation of a
//! body is reported at once, keyed by its JSON path (`network.extraHeaders.Host`).

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use validator::{Validate, ValidationError};
use zeroize::Zeroizing;

use super::fields::{check_length, whole};
use super::rules::{
    self, FORBIDDEN_HEADERS, MAX_CA_PEM_CHARS, MAX_EXTRA_HEADERS, MAX_HEADER_NAME_CHARS,
    MAX_HEADER_VALUE_CHARS, MAX_PROXY_PASSWORD_CHARS, MAX_TEXT_CHARS,
};
use super::settings::{Network, PasswordInput, ProxyInput, ProxyKind, REDACTED};
use super::surface::Surface;
use super::validation::{at_paths, rule};

#[derive(Debug, Default, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "backoff_order", skip_on_field_errors = false))]
pub struct NetworkBody {
    #[validate(range(min = 1, max = 3600, message = "must be between 1 and 3600 seconds"))]
    #[serde(default, deserialize_with = "whole")]
    pub request_timeout_seconds: Option<u32>,
    #[validate(range(min = 1, max = 3600, message = "must be between 1 and 3600 seconds"))]
    #[serde(default, deserialize_with = "whole")]
    pub stream_idle_timeout_seconds: Option<u32>,
    #[validate(range(max = 10, message = "must be between 0 and 10"))]
    #[serde(default, deserialize_with = "whole")]
    pub max_retries: Option<u32>,
    #[validate(range(min = 1, max = 300000, message = "must be between 1 and 300000 ms"))]
    #[serde(default, deserialize_with = "whole")]
    pub retry_backoff_initial_ms: Option<u32>,
    #[validate(range(min = 1, max = 300000, message = "must be between 1 and 300000 ms"))]
    #[serde(default, deserialize_with = "whole")]
    pub retry_backoff_max_ms: Option<u32>,
    #[validate(custom(function = "valid_extra_headers"))]
    pub extra_headers: Option<BTreeMap<String, String>>,
    #[validate(custom(function = "valid_ca_cert_pem"))]
    pub ca_cert_pem: Option<String>,
    pub insecure_skip_verify: Option<bool>,
}

/// The backoff bounds as sent or, for the side not sent, as their defaults.
fn backoff_order(n: &NetworkBody) -> Result<(), ValidationError> {
    let initial = n
        .retry_backoff_initial_ms
        .unwrap_or(Network::DEFAULT_BACKOFF_INITIAL_MS);
    let max = n
        .retry_backoff_max_ms
        .unwrap_or(Network::DEFAULT_BACKOFF_MAX_MS);
    let mut found = Vec::new();
    if initial > max {
        found.push((
            "retryBackoffMaxMs".to_owned(),
            format!("must be at least retryBackoffInitialMs ({initial} ms) (got {max} ms)"),
        ));
    }
    at_paths("backoff", found)
}

impl NetworkBody {
    pub fn into_network(self) -> Network {
        Network {
            request_timeout_secs: self.request_timeout_seconds,
            stream_idle_timeout_secs: self.stream_idle_timeout_seconds,
            max_retries: self.max_retries,
            retry_backoff_initial_ms: self.retry_backoff_initial_ms,
            retry_backoff_max_ms: self.retry_backoff_max_ms,
            extra_headers: self
                .extra_headers
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            ca_cert_pem: self.ca_cert_pem,
            insecure_skip_verify: self.insecure_skip_verify,
        }
    }
}

fn valid_extra_headers(headers: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    let mut found = Vec::new();
    if headers.len() > MAX_EXTRA_HEADERS {
        found.push((
            "extraHeaders".to_owned(),
            format!(
                "must have at most {MAX_EXTRA_HEADERS} headers (got {})",
                headers.len()
            ),
        ));
    }
    static VALUE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(rules::HEADER_VALUE_PATTERN).expect("pattern compiles"));
    let mut seen = HashSet::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if let Err(why) = header_name(name) {
            found.push((format!("extraHeaders.{name}"), why));
        } else if !seen.insert(lower.clone()) {
            found.push((
                format!("extraHeaders.{name}"),
                "repeats another header's name in another case (header names are \
                 case-insensitive)"
                    .into(),
            ));
        }
        if value.chars().count() > MAX_HEADER_VALUE_CHARS || !VALUE.is_match(value) {
            found.push((
                format!("extraHeaders.{name}"),
                format!(
                    "must have a value of at most {MAX_HEADER_VALUE_CHARS} visible ASCII \
                     characters, with spaces or tabs only between them"
                ),
            ));
        }
    }
    at_paths("extra_headers", found)
}

fn header_name(name: &str) -> Result<(), String> {
    static NAME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(rules::HEADER_NAME_PATTERN).expect("pattern compiles"));
    if name.len() > MAX_HEADER_NAME_CHARS || !NAME.is_match(name) {
        return Err(format!(
            "is not a header name: 1 to {MAX_HEADER_NAME_CHARS} letters, digits and \
             !#$%&'*+.^_`|~-"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
        return Err(match lower.as_str() {
            "authorization" | "x-api-key" => {
                "must not be set here: credentials belong in provider keys".into()
            }
            _ => "must not be set here: modelgate sets it for each request and connection".into(),
        });
    }
    Ok(())
}

fn valid_ca_cert_pem(pem: &str) -> Result<(), ValidationError> {
    rule("ca_cert_pem", check_ca_pem(pem))
}

/// At least one certificate, and nothing but certificates, each one X.509 that a TLS client
/// can trust: checked now, so that a provider never holds a bundle its client cannot load.
fn check_ca_pem(pem: &str) -> Result<(), String> {
    use rustls_pki_types::pem::{PemObject, SectionKind};
    check_length(pem, 1, MAX_CA_PEM_CHARS)?;
    let mut count = 0;
    for (i, section) in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes()).enumerate() {
        let (kind, der) = section.map_err(|e| format!("is not a PEM bundle: {e}"))?;
        if kind != SectionKind::Certificate {
            return Err(format!(
                "holds a {kind:?} block (number {}); only CERTIFICATE blocks may be given",
                i + 1
            ));
        }
        let der = rustls_pki_types::CertificateDer::from(der);
        webpki::anchor_from_trusted_cert(&der).map_err(|e| {
            format!(
                "has a CERTIFICATE block (number {}) that is not an X.509 certificate: {e}",
                i + 1
            )
        })?;
        count += 1;
    }
    match count {
        0 => Err("holds no `-----BEGIN CERTIFICATE-----` block".into()),
        _ => Ok(()),
    }
}

#[derive(Debug, Default, Deserialize, Validate)]
#[validate(schema(function = "proxy_rules", skip_on_field_errors = false))]
pub struct ProxyBody {
    #[serde(rename = "type")]
    #[validate(required(message = "is required"))]
    pub kind: Option<String>,
    pub url: Option<String>,
    #[validate(custom(function = "proxy_username"))]
    pub username: Option<String>,
    /// Checked in `proxy_rules`: a field rule would copy the value into its error.
    pub password: Option<Secret>,
}

/// A proxy password as read: it never shows in a `Debug` rendering.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Secret(pub Zeroizing<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret")
    }
}

fn proxy_username(s: &str) -> Result<(), ValidationError> {
    rule("username", no_control(s, MAX_TEXT_CHARS))
}

fn no_control(s: &str, max: usize) -> Result<(), String> {
    check_length(s, 1, max)?;
    match s.chars().any(char::is_control) {
        true => Err("must not contain control characters".into()),
        false => Ok(()),
    }
}

fn proxy_rules(p: &ProxyBody) -> Result<(), ValidationError> {
    let mut found = Vec::new();
    // The message never quotes the value.
    if let Some(Err(why)) = p
        .password
        .as_ref()
        .map(|s| no_control(&s.0, MAX_PROXY_PASSWORD_CHARS))
    {
        found.push(("password".to_owned(), why));
    }
    let Some(kind) = p.kind.as_deref() else {
        return at_paths("proxy", found);
    };
    let Some(kind) = ProxyKind::from_name(kind) else {
        found.push((
            "type".to_owned(),
            "must be one of `none`, `http`, `socks5`, `environment`".to_owned(),
        ));
        return at_paths("proxy", found);
    };
    if kind.has_url() {
        match p.url.as_deref() {
            None => found.push((
                "url".to_owned(),
                format!("is required for type `{}`", kind.name()),
            )),
            Some(url) => {
                if let Err(why) = check_proxy_url(kind, url) {
                    found.push(("url".to_owned(), why));
                }
            }
        }
        if p.password.is_some() && p.username.is_none() {
            found.push((
                "username".to_owned(),
                "is required with a password".to_owned(),
            ));
        }
    } else {
        for (field, sent) in [
            ("url", p.url.is_some()),
            ("username", p.username.is_some()),
            ("password", p.password.is_some()),
        ] {
            if sent {
                found.push((
                    field.to_owned(),
                    format!("must not be given for type `{}`", kind.name()),
                ));
            }
        }
    }
    at_paths("proxy", found)
}

fn check_proxy_url(kind: ProxyKind, url: &str) -> Result<(), String> {
    check_length(url, 1, rules::MAX_BASE_URL_CHARS)?;
    let schemes = match kind {
        ProxyKind::Socks5 => ["socks5", "socks5h"],
        _ => ["http", "https"],
    };
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    if !schemes.contains(&scheme) {
        return Err(format!(
            "must use the {} or {} scheme for type `{}`",
            schemes[0],
            schemes[1],
            kind.name()
        ));
    }
    if url.contains('@') {
        return Err("must not contain credentials: give them as username and password".into());
    }
    rules::check_host(url)?;
    static SHAPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&rules::proxy_url_shape()).expect("the proxy URL pattern compiles")
    });
    if !SHAPE.is_match(url) {
        return Err(
            "must be scheme://host[:port] with a host name, an IPv4 address or a bracketed \
             IPv6 address, and no path, query or fragment"
                .into(),
        );
    }
    Ok(())
}

impl ProxyBody {
    /// Only once the body obeys every rule.
    pub fn into_input(self) -> ProxyInput {
        let kind = self
            .kind
            .as_deref()
            .and_then(ProxyKind::from_name)
            .expect("a checked proxy has a known type");
        ProxyInput {
            kind,
            url: self.url,
            username: self.username,
            password: match self.password {
                None => PasswordInput::None,
                Some(s) if s.0.as_str() == REDACTED => PasswordInput::Keep,
                Some(s) => PasswordInput::Plain(s.0),
            },
        }
    }
}

pub fn path_overrides(paths: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    static PATH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(&rules::request_path_shape()).expect("pattern compiles"));
    let mut found = Vec::new();
    for (surface, path) in paths {
        if !Surface::ALL.iter().any(|s| s.name() == surface) {
            found.push((
                format!("requestPathOverrides.{surface}"),
                format!(
                    "is not a surface: must be one of {}",
                    Surface::ALL
                        .iter()
                        .map(|s| format!("`{}`", s.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        }
        let ok = path.len() <= rules::MAX_BASE_URL_CHARS
            && PATH.is_match(path)
            && !path
                .split('/')
                .any(|segment| segment == "." || segment == "..");
        if !ok {
            found.push((
                format!("requestPathOverrides.{surface}"),
                format!(
                    "must be an absolute path of at most {} characters (`/api/chat`): URL path \
                     characters, `%` only before two hex digits, no `.` or `..` segments, no \
                     query",
                    rules::MAX_BASE_URL_CHARS
                ),
            ));
        }
    }
    at_paths("path_overrides", found)
}
