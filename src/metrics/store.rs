//! The registry store's writes: each write's time to durable, each group commit's size.

use std::time::Duration;

use super::Metrics;
use crate::store::WriteObserver;

/// The `store` label of the registry's store (the usage database writes in its own batches).
const REGISTRY: &str = "registry";

impl WriteObserver for Metrics {
    fn group_committed(&self, writes: usize) {
        self.group_commit
            .with_label_values(&[REGISTRY])
            .observe(writes as f64);
    }

    fn write_durable(&self, took: Duration) {
        self.store_write
            .with_label_values(&[REGISTRY])
            .observe(took.as_secs_f64());
    }
}
