//! `network`, whole: how it is stored, the JSON that writes send and answers show, its rules
//! and its JSON Schema. A new field of it is written here (and its bounds in `rules`); what
//! `extraHeaders`' values become (sealed, for a credential's name) is `headers`.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;
use ulid::Ulid;
use utoipa::openapi::schema::Schema;
use validator::{Validate, ValidationError};

use super::headers::{self, HeaderInput, HeaderValue};
use super::{REDACTED, json_schema};
use crate::domain::Violations;
use crate::domain::fields::{check_length, whole};
use crate::domain::rules::{
    FORBIDDEN_HEADERS, HEADER_NAME_PATTERN, HEADER_VALUE_PATTERN, MAX_CA_PEM_CHARS,
    MAX_EXTRA_HEADERS, MAX_HEADER_NAME_CHARS, MAX_HEADER_VALUE_CHARS, REQUEST_TIMEOUT_SECS,
    RETRIES, RETRY_BACKOFF_MS, STREAM_IDLE_TIMEOUT_SECS,
};
use crate::domain::validation::{at_paths, rule};
use crate::secrets::{CryptoError, MasterKey};

/// As stored (postcard: the fields' order and types are the record format).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Network {
    pub request_timeout_secs: Option<u32>,
    pub stream_idle_timeout_secs: Option<u32>,
    pub max_retries: Option<u32>,
    pub retry_backoff_initial_ms: Option<u32>,
    pub retry_backoff_max_ms: Option<u32>,
    /// Names lower-cased, as HTTP/2 sends them; a credential's value sealed.
    pub extra_headers: BTreeMap<String, HeaderValue>,
    pub ca_cert_pem: Option<String>,
    pub insecure_skip_verify: Option<bool>,
}

impl Network {
    pub const DEFAULT_STREAM_IDLE_SECS: u32 = 60;
    pub const DEFAULT_BACKOFF_INITIAL_MS: u32 = 500;
    pub const DEFAULT_BACKOFF_MAX_MS: u32 = 5000;
}

/// `network` as JSON: what a write sends and, built from the stored [`Network`], what an
/// answer shows (only what is set). A `range` rule's code is the unit its message gives.
#[derive(Debug, Default, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "backoff_order", skip_on_field_errors = false))]
pub struct NetworkBody {
    #[validate(range(
        min = "REQUEST_TIMEOUT_SECS.min",
        max = "REQUEST_TIMEOUT_SECS.max",
        code = "seconds"
    ))]
    #[serde(default, deserialize_with = "whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_seconds: Option<u32>,
    #[validate(range(
        min = "STREAM_IDLE_TIMEOUT_SECS.min",
        max = "STREAM_IDLE_TIMEOUT_SECS.max",
        code = "seconds"
    ))]
    #[serde(default, deserialize_with = "whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_idle_timeout_seconds: Option<u32>,
    #[validate(range(min = "RETRIES.min", max = "RETRIES.max"))]
    #[serde(default, deserialize_with = "whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    #[validate(range(
        min = "RETRY_BACKOFF_MS.min",
        max = "RETRY_BACKOFF_MS.max",
        code = "ms"
    ))]
    #[serde(default, deserialize_with = "whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_backoff_initial_ms: Option<u32>,
    #[validate(range(
        min = "RETRY_BACKOFF_MS.min",
        max = "RETRY_BACKOFF_MS.max",
        code = "ms"
    ))]
    #[serde(default, deserialize_with = "whole")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_backoff_max_ms: Option<u32>,
    #[validate(custom(function = "valid_extra_headers"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_headers: Option<BTreeMap<String, String>>,
    #[validate(custom(function = "valid_ca_cert_pem"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// `network` as a write sends it: the stored shape but for the extra headers, whose
/// credentials are sealed (or kept) before they are stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkInput {
    /// Its `extra_headers` are left empty: they are `extra_headers` here.
    pub network: Network,
    pub extra_headers: BTreeMap<String, HeaderInput>,
}

impl NetworkInput {
    pub(super) fn seal(&mut self, master: &MasterKey, provider: Ulid) -> Result<(), CryptoError> {
        headers::seal(&mut self.extra_headers, master, provider)
    }

    /// The network settings to store in place of `current`.
    pub(super) fn stored(&self, current: Option<&Network>, v: &mut Violations) -> Network {
        Network {
            extra_headers: headers::stored(
                &self.extra_headers,
                current.map(|n| &n.extra_headers),
                v,
            ),
            ..self.network.clone()
        }
    }
}

impl NetworkBody {
    pub fn into_input(self) -> NetworkInput {
        NetworkInput {
            network: Network {
                request_timeout_secs: self.request_timeout_seconds,
                stream_idle_timeout_secs: self.stream_idle_timeout_seconds,
                max_retries: self.max_retries,
                retry_backoff_initial_ms: self.retry_backoff_initial_ms,
                retry_backoff_max_ms: self.retry_backoff_max_ms,
                extra_headers: BTreeMap::new(),
                ca_cert_pem: self.ca_cert_pem,
                insecure_skip_verify: self.insecure_skip_verify,
            },
            extra_headers: self
                .extra_headers
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let name = k.to_ascii_lowercase();
                    let value = HeaderInput::of(&name, v);
                    (name, value)
                })
                .collect(),
        }
    }

    /// What an answer shows of the stored settings: a credential's header as [`REDACTED`].
    pub fn answer(n: &Network) -> NetworkBody {
        NetworkBody {
            request_timeout_seconds: n.request_timeout_secs,
            stream_idle_timeout_seconds: n.stream_idle_timeout_secs,
            max_retries: n.max_retries,
            retry_backoff_initial_ms: n.retry_backoff_initial_ms,
            retry_backoff_max_ms: n.retry_backoff_max_ms,
            extra_headers: (!n.extra_headers.is_empty()).then(|| {
                n.extra_headers
                    .iter()
                    .map(|(name, value)| (name.clone(), value.answer(name)))
                    .collect()
            }),
            ca_cert_pem: n.ca_cert_pem.clone(),
            insecure_skip_verify: n.insecure_skip_verify,
        }
    }
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
        LazyLock::new(|| Regex::new(HEADER_VALUE_PATTERN).expect("pattern compiles"));
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
        LazyLock::new(|| Regex::new(HEADER_NAME_PATTERN).expect("pattern compiles"));
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

/// A header name that is none of the forbidden ones, in any case.
pub(super) fn header_name_pattern() -> String {
    let spelled: Vec<String> = FORBIDDEN_HEADERS
        .iter()
        .map(|name| {
            name.chars()
                .map(|c| match c {
                    c if c.is_ascii_alphabetic() => {
                        format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                    }
                    '-' | '.' => format!("\\{c}"),
                    c => c.to_string(),
                })
                .collect()
        })
        .collect();
    format!(
        "^(?!(?:{})$){}",
        spelled.join("|"),
        &HEADER_NAME_PATTERN[1..]
    )
}

/// The JSON Schema of [`NetworkBody`]: the same bounds, patterns and defaults.
pub fn schema() -> Schema {
    let integer = super::integer;
    let (initial, max) = (
        Network::DEFAULT_BACKOFF_INITIAL_MS,
        Network::DEFAULT_BACKOFF_MAX_MS,
    );
    json_schema(json!({
        "type": ["object", "null"],
        "additionalProperties": false,
        "description": format!("How modelgate calls this provider. Sent whole: a PATCH \
            replaces the object, `null` clears it. `retryBackoffInitialMs` must not exceed \
            `retryBackoffMaxMs` (defaults {initial} and {max})."),
        "properties": {
            "requestTimeoutSeconds": integer(REQUEST_TIMEOUT_SECS,
                "Per attempt, to the answer's head (and a whole unstreamed answer); unset: \
                 the gateway's `gateway.request_timeout_secs`."),
            "streamIdleTimeoutSeconds": integer(STREAM_IDLE_TIMEOUT_SECS,
                &format!("Longest quiet between two chunks of a streamed answer; default {}.",
                    Network::DEFAULT_STREAM_IDLE_SECS)),
            "maxRetries": integer(RETRIES,
                "Retries of the same key after a 5xx, 408, connect error or timeout, before \
                 the next candidate; default 0."),
            "retryBackoffInitialMs": integer(RETRY_BACKOFF_MS,
                &format!("First retry's wait (doubling, jittered); default {initial}.")),
            "retryBackoffMaxMs": integer(RETRY_BACKOFF_MS, &format!("Longest wait; default {max}.")),
            "extraHeaders": {
                "type": ["object", "null"],
                "maxProperties": MAX_EXTRA_HEADERS,
                "propertyNames": {"maxLength": MAX_HEADER_NAME_CHARS, "pattern": header_name_pattern()},
                "additionalProperties": {
                    "type": "string", "maxLength": MAX_HEADER_VALUE_CHARS,
                    "pattern": HEADER_VALUE_PATTERN
                },
                "description": format!("Headers sent on every call, names case-insensitive \
                    and each once; never `authorization` or `x-api-key` (provider keys are \
                    for those), `host`, `content-length` or hop-by-hop headers. A value under \
                    a credential's name (`api-key`, `cookie`, or ending in `-key`, `-token`, \
                    `-secret`, `-password`) is write-only and sealed like a provider key; \
                    answers show `{REDACTED}`, and sending `{REDACTED}` back keeps the stored \
                    value.")
            },
            "caCertPem": {
                "type": ["string", "null"], "minLength": 1, "maxLength": MAX_CA_PEM_CHARS,
                "format": "pem-certificates",
                "description": "PEM bundle of X.509 certificates trusted for this provider, \
                    besides the public roots; only CERTIFICATE blocks."
            },
            "insecureSkipVerify": {
                "type": ["boolean", "null"],
                "description": "Trust any certificate (logged as a warning). For testing only."
            }
        }
    }))
}
