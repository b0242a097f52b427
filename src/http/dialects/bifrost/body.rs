//! The bodies of Bifrost's `POST /api/providers` and `PUT /api/providers/{provider}`, as its
//! handler reads them, and their translation into the ngrok API's create and PATCH bodies, so
//! that one set of rules (`domain::provider_input`) judges every dialect's writes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

use super::names::{self, REQUEST_TYPES};
use crate::domain::Violations;
use crate::domain::extension::Extension;
use crate::domain::settings::Network;
use crate::domain::wire::Object;

/// Whether a field was sent (`Some`), and whether as `null` (`Some(None)`).
fn sent<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize)]
pub struct Body {
    /// POST only: the provider's name, which becomes its `providerId`.
    pub provider: Option<String>,
    #[serde(default, deserialize_with = "sent")]
    pub network_config: Option<Option<Object<NetworkConfig>>>,
    #[serde(default, deserialize_with = "sent")]
    pub concurrency_and_buffer_size: Option<Option<Object<Concurrency>>>,
    #[serde(default, deserialize_with = "sent")]
    pub proxy_config: Option<Option<Object<ProxyConfig>>>,
    pub send_back_raw_request: Option<bool>,
    pub send_back_raw_response: Option<bool>,
    pub store_raw_request_response: Option<bool>,
    #[serde(default, deserialize_with = "sent")]
    pub custom_provider_config: Option<Option<Object<CustomConfig>>>,
    /// Answer-only fields a client sends back with what it read: accepted, never stored.
    #[allow(dead_code)]
    pub name: Option<Value>,
    #[allow(dead_code)]
    pub status: Option<Value>,
    #[allow(dead_code)]
    pub provider_status: Option<Value>,
    #[allow(dead_code)]
    pub description: Option<Value>,
    #[allow(dead_code)]
    pub config_hash: Option<Value>,
    /// Refused when not empty, as Bifrost does: keys have routes of their own.
    pub keys: Option<Vec<Value>>,
}

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

/// A Bifrost body in the ngrok API's terms: the body to parse, and what the extension keeps.
pub struct Translated {
    pub ngrok: Value,
    pub extension: ExtensionFields,
}

/// What `custom_provider_config` sets: its base type, the flags without a surface that are
/// on, and the surfaces whose streams are off.
type Custom = (Option<String>, BTreeMap<String, bool>, BTreeSet<String>);

/// What a write sets in the extension: `None` keeps a field.
#[derive(Default)]
pub struct ExtensionFields {
    raw_request: Option<bool>,
    raw_response: Option<bool>,
    store_raw: Option<bool>,
    /// Sent with `custom_provider_config` (or its `null`): base type, other flags, no-stream.
    custom: Option<Custom>,
}

impl ExtensionFields {
    pub fn applied(&self, current: &Extension) -> Extension {
        let mut next = current.clone();
        if let Some(v) = self.raw_request {
            next.send_back_raw_request = v;
        }
        if let Some(v) = self.raw_response {
            next.send_back_raw_response = v;
        }
        if let Some(v) = self.store_raw {
            next.store_raw_request_response = v;
        }
        if let Some((base, other, no_stream)) = &self.custom {
            next.base_provider_type.clone_from(base);
            next.other_requests.clone_from(other);
            next.no_stream.clone_from(no_stream);
        }
        next
    }
}

/// The API format of a Bifrost provider named `name`, created with `custom`.
fn format_of(name: &str, custom: Option<&CustomConfig>, v: &mut Violations) -> &'static str {
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
fn surfaces(
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

fn overrides(format: &str, sent: &BTreeMap<String, String>, v: &mut Violations) -> Value {
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
fn network(n: &NetworkConfig) -> Option<Value> {
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

fn proxy(p: &ProxyConfig, v: &mut Violations) -> Value {
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

fn concurrency(out: &mut Map<String, Value>, c: Option<&Concurrency>, patch: bool) {
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

fn flags(body: &Body) -> ExtensionFields {
    ExtensionFields {
        raw_request: body.send_back_raw_request,
        raw_response: body.send_back_raw_response,
        store_raw: body.store_raw_request_response,
        custom: None,
    }
}

/// A POST body as the ngrok create body; `v` gets what is wrong in Bifrost's terms.
pub fn create(body: &Body, v: &mut Violations) -> Translated {
    let name = body.provider.clone().unwrap_or_default();
    if name.is_empty() {
        v.add("provider", "is required");
    }
    let custom = body
        .custom_provider_config
        .as_ref()
        .and_then(|c| c.as_deref());
    let format = format_of(&name, custom, v);
    let mut out = Map::new();
    out.insert("providerId".into(), json!(name));
    out.insert("name".into(), json!(name));
    let network_config = body.network_config.as_ref().and_then(|n| n.as_deref());
    let base_url = network_config
        .and_then(|n| n.base_url.clone())
        .filter(|u| !u.is_empty())
        .or_else(|| {
            let known = names::known(
                custom
                    .and_then(|c| c.base_provider_type.as_deref())
                    .unwrap_or(&name),
            );
            known
                .filter(|_| custom.is_none())
                .and_then(|k| k.base_url)
                .map(str::to_owned)
        });
    match base_url {
        Some(url) => {
            out.insert("baseUrl".into(), json!(url));
        }
        None if !name.is_empty() => v.add(
            "network_config.base_url",
            format!("is required for `{name}`: modelgate knows no default address for it"),
        ),
        None => {}
    }
    if let Some(n) = network_config {
        if let Some(network) = network(n) {
            out.insert("network".into(), network);
        }
        // Only `true` lets a provider in; `false` is what a provider without it gets.
        if n.allow_private_network == Some(true) {
            out.insert("allowPrivateNetwork".into(), json!(true));
        }
    }
    concurrency(
        &mut out,
        body.concurrency_and_buffer_size
            .as_ref()
            .and_then(|c| c.as_deref()),
        false,
    );
    if let Some(p) = body.proxy_config.as_ref().and_then(|p| p.as_deref()) {
        out.insert("proxy".into(), proxy(p, v));
    }
    let mut extension = flags(body);
    let (list, other, no_stream) =
        surfaces(format, custom.and_then(|c| c.allowed_requests.as_ref()), v);
    out.insert("supportedApiSurfaces".into(), list);
    if let Some(custom) = custom {
        // `false` is what a provider without the setting is: left out, like the others.
        if custom.is_key_less == Some(true) {
            out.insert("keyless".into(), json!(true));
        }
        if let Some(o) = &custom.request_path_overrides {
            out.insert("requestPathOverrides".into(), overrides(format, o, v));
        }
        extension.custom = Some((custom.base_provider_type.clone(), other, no_stream));
    }
    Translated {
        ngrok: Value::Object(out),
        extension,
    }
}

/// A PUT body as the ngrok PATCH body, as Bifrost's update applies it: `network_config` and
/// `concurrency_and_buffer_size` are replaced whole (left out: cleared, but the base URL is
/// kept); `proxy_config` and `custom_provider_config` only when sent (`null` clears); the
/// three raw flags only when sent. `format` is the provider's as stored.
pub fn update(body: &Body, format: &'static str, v: &mut Violations) -> Translated {
    if body.provider.is_some() {
        v.add(
            "provider",
            "is not accepted here: the provider is the one the path names",
        );
    }
    if body.keys.as_ref().is_some_and(|k| !k.is_empty()) {
        v.add(
            "keys",
            "are not accepted on this endpoint; use POST/PUT /api/providers/{provider}/keys[/{key_id}] to manage keys",
        );
    }
    let mut out = Map::new();
    let network_config = body.network_config.as_ref().and_then(|n| n.as_deref());
    if let Some(url) = network_config
        .and_then(|n| n.base_url.as_ref())
        .filter(|u| !u.is_empty())
    {
        out.insert("baseUrl".into(), json!(url));
    }
    let network = network_config.and_then(network);
    out.insert("network".into(), network.unwrap_or(Value::Null));
    out.insert(
        "allowPrivateNetwork".into(),
        json!(
            network_config
                .and_then(|n| n.allow_private_network)
                .filter(|allow| *allow)
        ),
    );
    concurrency(
        &mut out,
        body.concurrency_and_buffer_size
            .as_ref()
            .and_then(|c| c.as_deref()),
        true,
    );
    if let Some(p) = &body.proxy_config {
        let value = p.as_deref().map_or(Value::Null, |p| proxy(p, v));
        out.insert("proxy".into(), value);
    }
    let mut extension = flags(body);
    if let Some(custom) = &body.custom_provider_config {
        let custom = custom.as_deref();
        let format = match custom {
            Some(c) if c.base_provider_type.is_some() => format_of("", Some(c), v),
            _ => format,
        };
        let (list, other, no_stream) =
            surfaces(format, custom.and_then(|c| c.allowed_requests.as_ref()), v);
        out.insert("supportedApiSurfaces".into(), list);
        out.insert(
            "keyless".into(),
            json!(custom.and_then(|c| c.is_key_less).filter(|k| *k)),
        );
        let o = custom.and_then(|c| c.request_path_overrides.as_ref());
        out.insert(
            "requestPathOverrides".into(),
            o.map_or(Value::Null, |o| overrides(format, o, v)),
        );
        extension.custom = Some((
            custom.and_then(|c| c.base_provider_type.clone()),
            other,
            no_stream,
        ));
    }
    Translated {
        ngrok: Value::Object(out),
        extension,
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
