//! What a provider is and the rules its fields obey. Knows nothing of HTTP or storage engines:
//! input arrives as plain deserialized structs and leaves as parsed, trusted values.

mod access_key;
mod access_key_configuration;
mod api_key;
pub mod budget;
pub mod catalog;
pub mod discovery;
mod duration;
pub mod extension;
mod fields;
pub mod gateway_config;
pub mod health;
pub mod key_routing;
mod model_alias;
pub mod price;
mod provider;
mod provider_fields;
mod provider_input;
mod provider_key;
pub mod rules;
pub mod schema;
pub mod settings;
pub mod surface;
pub mod usage;
mod validation;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub use access_key::{
    ACCESS_KEY_PREFIX, AccessKey, AccessKeyChanges, AccessKeyRotation, CreateAccessKey,
    NewAccessKey, PreviousToken, RotateAccessKey, UpdateAccessKey, unknown_configuration,
};
pub use access_key_configuration::{
    AccessInput, AccessKeyConfiguration, AccessKeyConfigurationChanges, AccessScope,
    CreateAccessKeyConfiguration, DimensionInput, EVERY_MODEL, InlineKey, KnownProviders,
    NewAccessKeyConfiguration, Router, RouterInput, RouterRule, RouterStep, StepKey, Strategy,
    UpdateAccessKeyConfiguration,
};
pub use api_key::{
    API_KEY_PREFIX, ApiKey, ApiKeyChanges, CreateApiKey, NewApiKey, UpdateApiKey, redact_token,
};
pub use model_alias::{
    AliasRefusal, CreateModelAlias, KnownNames, ModelAlias, ModelAliasChanges, NewModelAlias,
    UpdateModelAlias, check_against as check_alias, fold as fold_model,
};
pub use price::{CreatePrice, ModelPrice, PriceChanges, UpdatePrice};
pub use provider::{
    ApiSurface, InputError, Model, Precondition, Provider, ProviderSlug, same_base_url,
};
pub use provider_fields::{ModelInput, ParamInput, SurfaceInput};
pub use provider_input::{
    CreateError, CreateProvider, NewProvider, ProviderChanges, UpdateProvider,
};
pub use provider_key::{
    CreateProviderKey, ENV_PREFIX, NewProviderKey, ProviderKey, ProviderKeyChanges, RevealError,
    RotateProviderKey, Rotation, SecretInput, StoredValue, UpdateProviderKey,
};

/// Every rule a request broke, keyed by field path (`models[2].modelId`), so that one response
/// tells the client everything to fix instead of one error per round trip.
///
/// At most [`MAX_REPORTED`] paths are kept: a 1 MiB body of 70,000 bad models must not earn a
/// multi-megabyte answer. The rest are counted under the key `…`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations {
    by_path: BTreeMap<String, String>,
    unreported: usize,
    /// Paths whose value could not be read at all (a wrong type, a repeated key): the rules of
    /// what is at or below them are not reported on top, as the client must fix that first.
    settled: Vec<String>,
    /// How many of the violations are fields the resource does not know.
    unknown_fields: usize,
}

/// How many field paths one error response lists.
pub const MAX_REPORTED: usize = 100;

impl Violations {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        let message = message.into();
        if self.settled.iter().any(|s| covers(s, &path)) {
            return;
        }
        self.record(path, message);
    }

    /// A value that cannot be read as what its field takes: reported, and nothing more is
    /// reported at or below its path.
    pub fn add_unreadable(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        self.record(path.clone(), message.into());
        self.settled.push(path);
    }

    /// A field the resource does not know.
    pub fn add_unknown(&mut self, path: impl Into<String>) {
        self.unknown_fields += 1;
        self.add_unreadable(path, "unknown field");
    }

    /// Whether every violation is an unknown field (the API answers those with their own code).
    pub fn only_unknown_fields(&self) -> bool {
        self.unknown_fields > 0 && self.unknown_fields == self.count()
    }

    fn record(&mut self, path: String, message: String) {
        if let Some(m) = self.by_path.get_mut(&path) {
            m.push_str("; ");
            m.push_str(&message);
        } else if self.by_path.len() < MAX_REPORTED {
            self.by_path.insert(path, message);
        } else {
            self.unreported += 1;
        }
    }

    /// Records the error of `result` under `path` and passes its value on.
    pub fn check<T>(&mut self, path: impl Into<String>, result: Result<T, String>) -> Option<T> {
        result.map_err(|m| self.add(path, m)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// How many field paths break a rule, listed or not.
    pub fn count(&self) -> usize {
        self.by_path.len() + self.unreported
    }

    /// How many are listed by [`Violations::to_map`] (the rest are counted under `…`).
    pub fn listed(&self) -> usize {
        self.by_path.len()
    }

    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = self.by_path.clone();
        if self.unreported > 0 {
            map.insert(
                "…".to_owned(),
                format!("{} more violations not listed", self.unreported),
            );
        }
        map
    }
}

/// A request body read into its type, with what the reading found wrong (values of the wrong
/// type, unknown or repeated fields): reported together with the type's own rule violations.
pub struct Input<T> {
    pub value: T,
    pub violations: Violations,
}

impl<T> From<T> for Input<T> {
    fn from(value: T) -> Input<T> {
        Input {
            value,
            violations: Violations::default(),
        }
    }
}

impl<T: validator::Validate> Input<T> {
    /// The body, and every violation of it: those its reading found and its own rules'.
    pub(crate) fn checked(self) -> (T, Violations) {
        let Input {
            value,
            mut violations,
        } = self;
        if let Err(errors) = value.validate() {
            validation::collect(&errors, "", &mut violations);
        }
        (value, violations)
    }
}

/// Whether a violation at `path` is about the value at `settled` or something inside it.
fn covers(settled: &str, path: &str) -> bool {
    settled.is_empty()
        || path == settled
        || path
            .strip_prefix(settled)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The entity tag of a record's version: `"<id>-<version>"`.
pub fn version_tag(id: ulid::Ulid, version: u64) -> String {
    format!("\"{id}-{version}\"")
}

/// Milliseconds since the Unix epoch: how timestamps are stored.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An id in its one accepted spelling: upper-case Crockford base 32 that fits 128 bits
/// ([`rules::ULID_PATTERN`]). The ulid crate alone also takes lower case and silently drops
/// the bits of a first character above `7`, which would give one record many names.
pub fn parse_id(s: &str) -> Option<ulid::Ulid> {
    let bytes = s.as_bytes();
    let canonical = bytes.len() == 26
        && bytes[0] <= b'7'
        && bytes
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'H' | b'J' | b'K' | b'M' | b'N' | b'P'..=b'T' | b'V'..=b'Z'));
    canonical.then(|| ulid::Ulid::from_string(s).ok()).flatten()
}

/// A new ULID, strictly increasing within this process so that "newest first" paging follows
/// creation order even for creates in the same millisecond.
pub fn next_id() -> ulid::Ulid {
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // Overflow needs 2^80 ids in one millisecond; a random id is a fine fallback.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}
