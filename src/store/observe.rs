//! What a store tells of its writes as they become durable, for whoever counts them (the
//! metrics): a trait, so the store names no one above it.

use std::time::Duration;

pub trait WriteObserver: Send + Sync {
    /// One group commit's flush made `writes` writes durable together.
    fn group_committed(&self, writes: usize);

    /// One write took `took`, from its start until it was durable.
    fn write_durable(&self, took: Duration);
}
