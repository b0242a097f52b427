//! What a provider is and the rules its fields obey. Knows nothing of HTTP or storage engines:
//! input arrives as plain deserialized structs and leaves as parsed, trusted values.

pub mod catalog;
mod fields;
mod provider;
mod provider_fields;
mod provider_input;
mod provider_key;
pub mod rules;
pub mod schema;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub use provider::{ApiSurface, InputError, Model, Precondition, Provider, ProviderSlug};
pub use provider_fields::{ModelInput, ParamInput, SurfaceInput};
pub use provider_input::{CreateProvider, NewProvider, ProviderChanges, UpdateProvider};
pub use provider_key::{
    CreateProviderKey, NewProviderKey, ProviderKey, ProviderKeyChanges, RevealError,
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
}

/// How many field paths one error response lists.
pub const MAX_REPORTED: usize = 100;

impl Violations {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        let message = message.into();
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

    pub fn into_map(self) -> BTreeMap<String, String> {
        let mut map = self.by_path;
        if self.unreported > 0 {
            map.insert(
                "…".to_owned(),
                format!("{} more violations not listed", self.unreported),
            );
        }
        map
    }
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

/// A new ULID, strictly increasing within this process so that "newest first" paging follows
/// creation order even for creates in the same millisecond.
pub fn next_id() -> ulid::Ulid {
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // Overflow needs 2^80 ids in one millisecond; a random id is a fine fallback.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}
