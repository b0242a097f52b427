//! The `[usage]` settings: the usage events the data plane records, and how long they stay.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ConfigError;
use crate::domain::usage::Price;

/// `[prices."providerId:modelId"]` (or a bare model id): USD per million tokens of each kind;
/// a kind left out costs nothing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceSettings {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

/// Every price, checked: what `[prices]` holds, as exact nano-dollar rates.
pub fn prices(
    entries: &BTreeMap<String, PriceSettings>,
) -> Result<BTreeMap<String, Price>, ConfigError> {
    entries
        .iter()
        .map(|(model, p)| {
            if model.is_empty() {
                return Err(ConfigError("prices: a model name must not be empty".into()));
            }
            Price::from_usd(p.input, p.output, p.cache_read, p.cache_write)
                .map(|price| (model.clone(), price))
                .ok_or_else(|| {
                    ConfigError(format!(
                        "prices.\"{model}\": each rate must be a number of USD per million \
                         tokens from 0 to 1000000"
                    ))
                })
        })
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_price_must_be_a_rate_from_zero_to_a_million() {
        let entry = |input| {
            let mut all = BTreeMap::new();
            all.insert(
                "box:m".to_owned(),
                PriceSettings {
                    input,
                    ..PriceSettings::default()
                },
            );
            prices(&all)
        };
        assert!(entry(0.15).is_ok());
        let refused = entry(-1.0).unwrap_err().to_string();
        assert!(refused.contains("prices.\"box:m\""), "{refused}");
        assert!(entry(f64::INFINITY).is_err());
    }
}
