//! The `[usage]` settings: the usage events the data plane records, and how long they stay.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageSettings {
    /// Days events (and their daily sums) are kept.
    pub retention_days: u32,
    /// The most the usage store may take on disk, in MiB; 0 for no bound but retention. The
    /// oldest days go first when it is passed.
    pub max_mib: u64,
    /// The usage store's own cache, in MiB.
    pub cache_capacity_mib: u64,
    /// Free space the usage store leaves on top of `storage.min_free_mib`, in MiB: usage
    /// stops taking events before the registry stops taking writes.
    pub reserve_mib: u64,
    /// Events waiting for the writer at most; more are dropped (and counted), never waited
    /// on.
    pub queue: usize,
}

impl Default for UsageSettings {
    fn default() -> Self {
        UsageSettings {
            retention_days: 30,
            max_mib: 1024,
            cache_capacity_mib: 16,
            reserve_mib: 64,
            queue: 65_536,
        }
    }
}

impl UsageSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.retention_days == 0 {
            return Err(ConfigError(
                "usage.retention_days must be at least 1".into(),
            ));
        }
        if self.queue == 0 {
            return Err(ConfigError("usage.queue must be at least 1".into()));
        }
        Ok(())
    }
}
