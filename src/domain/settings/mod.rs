//! A provider's own settings beyond ngrok's fields — how it is called (`network`, `proxy`),
//! how many calls it takes at once (`concurrency`, `bufferSize`), whether it gets credentials
//! (`keyless`), where its surfaces live (`requestPathOverrides`) and whether it may be on a
//! private network (`allowPrivateNetwork`) — as stored, how a write changes them, and their
//! rules and JSON Schemas, whose numbers come from `rules` alone.
//!
//! An object setting is one file: `network`, `proxy` (stored shape, the JSON that writes send
//! and answers show, rules, schema); `headers` says which of `network.extraHeaders` carry
//! credentials and seals their values, as `proxy` seals its password. The plain ones are stored, checked across fields and
//! described here; their request fields are `provider_input`'s bodies.
//!
//! Two rules span fields and no JSON Schema keyword can say them: `retryBackoffInitialMs` ≤
//! `retryBackoffMaxMs` and `concurrency` ≤ `bufferSize`; nor can a pattern say that a PEM
//! block holds an X.509 certificate. The descriptions state them, and the fuzzing's hooks
//! (`tests/fuzz/hooks.py`) keep generated bodies within them.

pub mod headers;
pub mod network;
pub mod proxy;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ulid::Ulid;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use validator::ValidationError;

pub use headers::{HeaderInput, HeaderValue, is_credential};
pub use network::{Network, NetworkBody, NetworkInput};
pub use proxy::{PasswordInput, Proxy, ProxyBody, ProxyInput, ProxyKind, REDACTED, Secret};

use super::Violations;
use super::rules::{self, Bounds, CONCURRENCY, MAX_BASE_URL_CHARS, request_path_pattern};
use super::surface::Surface;
use super::validation::at_paths;
use crate::secrets::{CryptoError, MasterKey};

/// Every field is optional, and unset ones are left out of answers, so a provider that uses
/// none answers in ngrok's closed shape. Stored with postcard: the fields' order and types
/// are the record format.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    pub network: Option<Network>,
    pub proxy: Option<Proxy>,
    pub concurrency: Option<u32>,
    pub buffer_size: Option<u32>,
    pub keyless: Option<bool>,
    /// By surface name (`chat-completions`): the absolute path that replaces the surface's.
    pub path_overrides: BTreeMap<String, String>,
    pub allow_private_network: Option<bool>,
}

/// The settings a create or PATCH sends: `None` keeps a field, `Some(None)` clears it, and
/// `Some(Some(v))` replaces it (an object whole: `network` and `proxy` are not merged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsChanges {
    pub network: Option<Option<NetworkInput>>,
    pub proxy: Option<Option<ProxyInput>>,
    pub concurrency: Option<Option<u32>>,
    pub buffer_size: Option<Option<u32>>,
    pub keyless: Option<Option<bool>>,
    pub path_overrides: Option<Option<BTreeMap<String, String>>>,
    pub allow_private_network: Option<Option<bool>>,
}

impl SettingsChanges {
    /// Seals a new proxy password and credential headers for `provider`, so that nothing in
    /// the clear reaches the store.
    pub fn seal(&mut self, master: &MasterKey, provider: Ulid) -> Result<(), CryptoError> {
        if let Some(Some(network)) = &mut self.network {
            network.seal(master, provider)?;
        }
        match &mut self.proxy {
            Some(Some(proxy)) => proxy.seal(master, provider),
            _ => Ok(()),
        }
    }

    /// The settings after the change; the rules that span fields are checked on the result,
    /// since a PATCH may send one side of them.
    pub fn apply(&self, current: &Settings) -> Result<Settings, Violations> {
        let mut next = current.clone();
        let mut v = Violations::default();
        if let Some(network) = &self.network {
            next.network = network
                .as_ref()
                .map(|input| input.stored(current.network.as_ref(), &mut v));
        }
        if let Some(proxy) = &self.proxy {
            next.proxy = proxy
                .as_ref()
                .map(|input| input.stored(current.proxy.as_ref(), &mut v));
        }
        replace(&mut next.concurrency, self.concurrency);
        replace(&mut next.buffer_size, self.buffer_size);
        replace(&mut next.keyless, self.keyless);
        if let Some(overrides) = &self.path_overrides {
            next.path_overrides = overrides.clone().unwrap_or_default();
        }
        replace(&mut next.allow_private_network, self.allow_private_network);
        if let Some(why) = buffer_rule(next.concurrency, next.buffer_size, true) {
            v.add("bufferSize", why);
        }
        match v.is_empty() {
            true => Ok(next),
            false => Err(v),
        }
    }
}

fn replace<T>(field: &mut Option<T>, change: Option<Option<T>>) {
    if let Some(value) = change {
        *field = value;
    }
}

/// What is wrong with `bufferSize` beside `concurrency`, the one rule a body and the record
/// it makes are both checked by. A buffer without a cap is wrong in a record (`whole`), not in
/// a PATCH that leaves the stored cap alone.
pub fn buffer_rule(
    concurrency: Option<u32>,
    buffer_size: Option<u32>,
    whole: bool,
) -> Option<String> {
    match (concurrency, buffer_size) {
        (Some(c), Some(b)) if b < c => {
            Some(format!("must be at least `concurrency` ({c}) (got {b})"))
        }
        (None, Some(_)) if whole => {
            Some("needs `concurrency`: the buffer holds the calls beyond it".to_owned())
        }
        _ => None,
    }
}

impl Settings {
    /// The settings with the data keys of the proxy password and the credential headers
    /// wrapped by `new` instead of `old`, or `None` when they hold no sealed secret.
    pub fn rewrapped(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        provider: Ulid,
    ) -> Result<Option<Settings>, CryptoError> {
        let mut next = self.clone();
        let mut rewrapped = match &mut next.proxy {
            Some(proxy) => proxy.rewrap_password(old, new, provider)?,
            None => false,
        };
        if let Some(network) = &mut next.network
            && let Some(headers) = headers::rewrapped(&network.extra_headers, old, new, provider)?
        {
            network.extra_headers = headers;
            rewrapped = true;
        }
        Ok(rewrapped.then_some(next))
    }

    /// The settings with every credential header that an earlier store format kept in the
    /// clear sealed for `provider`, or `None` when there is none.
    pub fn sealed_plaintext(
        &self,
        master: &MasterKey,
        provider: Ulid,
    ) -> Result<Option<Settings>, CryptoError> {
        let Some(network) = &self.network else {
            return Ok(None);
        };
        let Some(headers) = headers::sealed_plaintext(&network.extra_headers, master, provider)?
        else {
            return Ok(None);
        };
        let mut next = self.clone();
        if let Some(n) = &mut next.network {
            n.extra_headers = headers;
        }
        Ok(Some(next))
    }

    /// How many calls may wait beyond those in flight.
    pub fn queue(&self) -> Option<(u32, u32)> {
        self.concurrency
            .map(|c| (c, self.buffer_size.unwrap_or(c).saturating_sub(c)))
    }
}

/// The `requestPathOverrides` entry of the model list, which the provider's probe reads
/// (`POST /providers/{id}/test`): not a surface model calls go to, but a path like theirs.
pub const MODELS_PATH: &str = "models";

/// The names `requestPathOverrides` takes: every surface's, and the model list's.
pub fn overridable() -> impl Iterator<Item = &'static str> {
    Surface::ALL
        .iter()
        .map(|s| s.name())
        .chain(std::iter::once(MODELS_PATH))
}

/// The `requestPathOverrides` rule: known surfaces (or `models`), each to an absolute path.
pub fn path_overrides(paths: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    static PATH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(&rules::request_path_shape()).expect("pattern compiles"));
    let mut found = Vec::new();
    for (surface, path) in paths {
        if !overridable().any(|name| name == surface) {
            found.push((
                format!("requestPathOverrides.{surface}"),
                format!(
                    "is not a surface: must be one of {}",
                    overridable()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        }
        let ok = path.len() <= MAX_BASE_URL_CHARS
            && PATH.is_match(path)
            && !path
                .split('/')
                .any(|segment| segment == "." || segment == "..");
        if !ok {
            found.push((
                format!("requestPathOverrides.{surface}"),
                format!(
                    "must be an absolute path of at most {MAX_BASE_URL_CHARS} characters \
                     (`/api/chat`): URL path characters, `%` only before two hex digits, no \
                     `.` or `..` segments, no query"
                ),
            ));
        }
    }
    at_paths("path_overrides", found)
}

/// A schema written as JSON. utoipa's model has no field for several keywords used here
/// (`propertyNames`, `const`, `if`/`then`, a `oneOf` beside `type`), so everything but the
/// type and description goes through its extensions, which serialize flat beside them.
pub(in crate::domain) fn json_schema(value: Value) -> Schema {
    let Value::Object(mut map) = value else {
        unreachable!("a schema is written as an object")
    };
    let parse = |t: &Value| match t.as_str() {
        Some("object") => Type::Object,
        Some("string") => Type::String,
        Some("integer") => Type::Integer,
        Some("boolean") => Type::Boolean,
        Some("null") => Type::Null,
        other => unreachable!("no settings schema has type {other:?}"),
    };
    let ty = match map.remove("type") {
        Some(Value::Array(types)) => SchemaType::Array(types.iter().map(parse).collect()),
        Some(one) => SchemaType::Type(parse(&one)),
        None => SchemaType::AnyValue,
    };
    let mut b = ObjectBuilder::new().schema_type(ty);
    if let Some(Value::String(d)) = map.remove("description") {
        b = b.description(Some(d));
    }
    Schema::Object(b.extensions(Some(map.into_iter().collect())).build())
}

/// A whole-number setting within `bounds`, or `null`.
fn integer(bounds: Bounds, description: &str) -> Value {
    json!({"type": ["integer", "null"], "minimum": bounds.min, "maximum": bounds.max,
           "description": description})
}

pub fn concurrency() -> Schema {
    json_schema(integer(
        CONCURRENCY,
        "Most calls in flight to this provider at once; more wait in the buffer.",
    ))
}

pub fn buffer_size() -> Schema {
    json_schema(integer(
        CONCURRENCY,
        "Calls in flight plus waiting; needs `concurrency` and must be at least it (default: \
         equal, so nothing waits). Beyond it a call is refused at once with 429.",
    ))
}

pub fn keyless() -> Schema {
    json_schema(json!({"type": ["boolean", "null"],
        "description": "Call without credentials even when the provider has keys."}))
}

pub fn allow_private_network() -> Schema {
    json_schema(json!({"type": ["boolean", "null"],
        "description": "Allow loopback and private addresses for this provider when the \
            gateway refuses them (`outbound.allow_private_networks = false`). Cloud metadata \
            addresses are refused always."}))
}

pub fn request_path_overrides() -> Schema {
    let names: Vec<&str> = overridable().collect();
    json_schema(json!({
        "type": ["object", "null"],
        "propertyNames": {"enum": names},
        "additionalProperties": {"type": "string", "maxLength": MAX_BASE_URL_CHARS,
                                 "pattern": request_path_pattern()},
        "description": "Per surface, the absolute path that replaces the standard one at the \
            base URL's host (`{\"chat-completions\": \"/api/chat\"}`); `models`, the model list the \
            provider's test reads (`GET …/models` by default). `null` clears them."
    }))
}
