//! How each block of a Bifrost provider body reads as the ngrok API's fields: the API format
//! a named provider speaks, `allowed_requests` as surfaces, `request_path_overrides`,
//! `network_config`, `proxy_config`, `concurrency_and_buffer_size` (each block's request type
//! too); and the ngrok fields'
//! paths back in Bifrost's names, for the violations the ngrok rules report.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::names::{self, REQUEST_TYPES};
use crate::domain::Violations;
use crate::domain::settings::Network;

/// Numbers are read as JSON values and handed to the ngrok body as they are, so its rules
/// (whole numbers, bounds) judge them.
#[derive(Debug, Default, Deserialize)]
pub struct NetworkConfig {
    pub base_url: Option<String>,
    pub extra_headers: Option<BTreeMap<String, String>>,
    pub default_request_timeout_in_seconds: Option<Value>,
    pub stream_idle_timeout_in_seconds: Option<Value>,
    pub max_retries: Option<Value>,
    pub retry_backoff_initial: Option<Value>,
    pub retry_backoff_max: Option<Value>,
    pub insecure_skip_verify: Option<bool>,
    pub ca_cert_pem: Option<String>,
    pub allow_private_network: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Concurrency {
    pub concurrency: Option<Value>,
    pub buffer_size: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ProxyConfig {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub ca_cert_pem: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomConfig {
    pub base_provider_type: Option<String>,
    pub is_key_less: Option<bool>,
    pub allowed_requests: Option<BTreeMap<String, bool>>,
    pub request_path_overrides: Option<BTreeMap<String, String>>,
}

/// The API format of a Bifrost provider named `name`, created with `custom`.
pub(super) fn format_of(
    name: &str,
    custom: Option<&CustomConfig>,
    v: &mut Violations,
) -> &'static str {
    if let Some(custom) = custom {
        return match custom.base_provider_type.as_deref() {
            None | Some("") => {
                v.add(
                    "custom_provider_config.base_provider_type",
                    "is required when custom_provider_config is sent",
                );
                "openai"
            }
            Some(base) => match names::known(base) {
                Some(known) => known.format,
                None => {
                    v.add(
                        "custom_provider_config.base_provider_type",
                        format!(
                            "must name a provider that speaks OpenAI's or Anthropic's API, such \
                             as `openai` or `anthropic` (got `{base}`)"
                        ),
                    );
                    "openai"
                }
            },
        };
    }
    match names::known(name) {
        Some(known) => known.format,
        None if names::FOREIGN.contains(&name) => {
            v.add(
                "provider",
                format!(
                    "`{name}` speaks an API of its own, which modelgate does not; add it as a \
                     custom provider (custom_provider_config.base_provider_type `openai`) if it \
                     offers an OpenAI-compatible endpoint"
                ),
            );
            "openai"
        }
        None => {
            v.add(
                "custom_provider_config",
                format!(
                    "is required for `{name}`, which is not a provider Bifrost knows by name: \
                     send its base_provider_type"
                ),
            );
            "openai"
        }
    }
}

/// The surfaces `allowed` turns on for `format`, or every surface of the format when no flag
/// is sent; with the flags that name no surface and the surfaces whose streams are off.
pub(super) fn surfaces(
    format: &str,
    allowed: Option<&BTreeMap<String, bool>>,
    v: &mut Violations,
) -> (Value, BTreeMap<String, bool>, BTreeSet<String>) {
    let Some(allowed) = allowed else {
        return (
            json!([{ "format": format }]),
            BTreeMap::new(),
            BTreeSet::new(),
        );
    };
    let mut list = Vec::new();
    let (mut other, mut no_stream) = (BTreeMap::new(), BTreeSet::new());
    for (request, &on) in allowed {
        let path = format!("custom_provider_config.allowed_requests.{request}");
        if !REQUEST_TYPES.contains(&request.as_str()) {
            v.add(path, "is not a Bifrost request type");
            continue;
        }
        let plain = request.strip_suffix("_stream");
        let surface = names::surface_of(plain.unwrap_or(request), format);
        match (surface, plain) {
            // Stored only when on: off is what an answer says of a flag never sent.
            (None, _) => {
                if on {
                    other.insert(request.clone(), on);
                }
            }
            (Some(surface), None) => {
                let stream = allowed.get(&format!("{request}_stream")).copied();
                if on {
                    list.push(json!({ "format": format, "surface": surface }));
                    if stream == Some(false) {
                        no_stream.insert(surface.to_owned());
                    }
                }
            }
            (Some(_), Some(plain)) => {
                if on && allowed.get(plain) != Some(&true) {
                    v.add(
                        path,
                        format!(
                            "needs `{plain}`: modelgate serves a request type's streamed calls \
                             beside its plain ones"
                        ),
                    );
                }
            }
        }
    }
    if list.is_empty() && v.is_empty() {
        v.add(
            "custom_provider_config.allowed_requests",
            format!("allows no request type modelgate serves for an {format}-format provider"),
        );
    }
    (Value::Array(list), other, no_stream)
}

pub(super) fn overrides(
    format: &str,
    sent: &BTreeMap<String, String>,
    v: &mut Violations,
) -> Value {
    let mut out = Map::new();
    for (request, path) in sent {
        match names::override_key(request, format) {
            Some(key) => {
                out.insert(key.to_owned(), Value::String(path.clone()));
            }
            None => v.add(
                format!("custom_provider_config.request_path_overrides.{request}"),
                format!("is not a request type modelgate serves for an {format}-format provider"),
            ),
        }
    }
    Value::Object(out)
}

/// A Bifrost zero is "the default", and so is a number equal to the default an answer shows
/// for a field never set: either is left out, so that a client sending back what it read
/// changes nothing.
fn number(out: &mut Map<String, Value>, key: &str, value: &Option<Value>, unset: &[f64]) {
    match value {
        Some(Value::Number(n)) if n.as_f64().is_some_and(|n| unset.contains(&n)) => {}
        Some(value) => {
            out.insert(key.to_owned(), value.clone());
        }
        None => {}
    }
}

/// `network` of the ngrok body, or `None` when the block sets none of its fields.
pub(super) fn network(n: &NetworkConfig) -> Option<Value> {
    let mut out = Map::new();
    number(
        &mut out,
        "requestTimeoutSeconds",
        &n.default_request_timeout_in_seconds,
        &[0.0],
    );
    number(
        &mut out,
        "streamIdleTimeoutSeconds",
        &n.stream_idle_timeout_in_seconds,
        &[0.0],
    );
    number(&mut out, "maxRetries", &n.max_retries, &[]);
    number(
        &mut out,
        "retryBackoffInitialMs",
        &n.retry_backoff_initial,
        &[0.0, f64::from(Network::DEFAULT_BACKOFF_INITIAL_MS)],
    );
    number(
        &mut out,
        "retryBackoffMaxMs",
        &n.retry_backoff_max,
        &[0.0, f64::from(Network::DEFAULT_BACKOFF_MAX_MS)],
    );
    if let Some(h) = n.extra_headers.as_ref().filter(|h| !h.is_empty()) {
        out.insert("extraHeaders".into(), json!(h));
    }
    if let Some(pem) = n.ca_cert_pem.as_ref().filter(|p| !p.is_empty()) {
        out.insert("caCertPem".into(), json!(pem));
    }
    if let Some(skip) = n.insecure_skip_verify.filter(|s| *s) {
        out.insert("insecureSkipVerify".into(), json!(skip));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

pub(super) fn proxy(p: &ProxyConfig, v: &mut Violations) -> Value {
    if p.ca_cert_pem.as_ref().is_some_and(|c| !c.is_empty()) {
        v.add(
            "proxy_config.ca_cert_pem",
            "is not supported: modelgate trusts a proxy by the system's roots; leave it out",
        );
    }
    let kind = match (p.kind.as_deref(), p.url.as_deref()) {
        (Some(kind), _) => kind.to_owned(),
        (None, Some(url)) if url.starts_with("socks5") => "socks5".to_owned(),
        (None, Some(_)) => "http".to_owned(),
        (None, None) => "none".to_owned(),
    };
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    for (key, value) in [
        ("url", &p.url),
        ("username", &p.username),
        ("password", &p.password),
    ] {
        if let Some(value) = value.as_ref().filter(|s| !s.is_empty()) {
            out.insert(key.into(), json!(value));
        }
    }
    Value::Object(out)
}

pub(super) fn concurrency(out: &mut Map<String, Value>, c: Option<&Concurrency>, patch: bool) {
    let zero = |v: &Option<Value>| v.as_ref().is_none_or(|v| v.as_f64() == Some(0.0));
    match c {
        // Zero for both: no cap, as a provider without one has.
        Some(c) if !(zero(&c.concurrency) && zero(&c.buffer_size)) => {
            for (key, value) in [
                ("concurrency", &c.concurrency),
                ("bufferSize", &c.buffer_size),
            ] {
                out.insert(key.into(), value.clone().unwrap_or(Value::Null));
            }
        }
        _ if patch => {
            out.insert("concurrency".into(), Value::Null);
            out.insert("bufferSize".into(), Value::Null);
        }
        _ => {}
    }
}

/// The ngrok body's field paths in Bifrost's terms, for the violations its rules report.
const PATHS: &[(&str, &str)] = &[
    ("providerId", "provider"),
    ("name", "provider"),
    ("baseUrl", "network_config.base_url"),
    (
        "network.requestTimeoutSeconds",
        "network_config.default_request_timeout_in_seconds",
    ),
    (
        "network.streamIdleTimeoutSeconds",
        "network_config.stream_idle_timeout_in_seconds",
    ),
    ("network.maxRetries", "network_config.max_retries"),
    (
        "network.retryBackoffInitialMs",
        "network_config.retry_backoff_initial",
    ),
    (
        "network.retryBackoffMaxMs",
        "network_config.retry_backoff_max",
    ),
    ("network.extraHeaders", "network_config.extra_headers"),
    ("network.caCertPem", "network_config.ca_cert_pem"),
    (
        "network.insecureSkipVerify",
        "network_config.insecure_skip_verify",
    ),
    ("network", "network_config"),
    (
        "allowPrivateNetwork",
        "network_config.allow_private_network",
    ),
    ("concurrency", "concurrency_and_buffer_size.concurrency"),
    ("bufferSize", "concurrency_and_buffer_size.buffer_size"),
    ("proxy", "proxy_config"),
    ("keyless", "custom_provider_config.is_key_less"),
    (
        "requestPathOverrides",
        "custom_provider_config.request_path_overrides",
    ),
    (
        "supportedApiSurfaces",
        "custom_provider_config.allowed_requests",
    ),
];

/// `path` of the ngrok body as Bifrost names it.
pub fn bifrost_path(path: &str) -> String {
    for (ngrok, bifrost) in PATHS {
        if let Some(rest) = path.strip_prefix(ngrok)
            && (rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
        {
            return format!("{bifrost}{rest}");
        }
    }
    path.to_owned()
}
