//! The bodies of Bifrost's `POST /api/providers` and `PUT /api/providers/{provider}`, as its
//! handler reads them, and their translation into the ngrok API's create and PATCH bodies, so
//! that one set of rules (`domain::provider_input`) judges every dialect's writes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

use super::blocks::{
    Concurrency, CustomConfig, NetworkConfig, ProxyConfig, concurrency, format_of, network,
    overrides, proxy, surfaces,
};
use super::names;
use crate::domain::Violations;
use crate::domain::extension::Extension;
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
