//! What else hears of each usage event as it is recorded (metrics, in-memory counters): told on
//! the recording task, before the event goes to the writer, so an event the writer's queue
//! drops is still told. An observer only counts; it never waits or does I/O.

use std::time::Duration;

use crate::domain::usage::UsageEvent;

pub trait Observer: Send + Sync {
    /// An attempt's event, as it is handed to the writer.
    fn recorded(&self, event: &UsageEvent);

    /// `n` events were never written (the queue was full, or their batch failed).
    fn dropped(&self, _n: u64) {}

    /// One batch of `events` was made durable in the usage store, which took `took`.
    fn batch_written(&self, _events: usize, _took: Duration) {}
}
