//! The one clock of the failure policy: key rests and circuit breakers read milliseconds from
//! it, and tests drive their own instead of sleeping.

use std::sync::Arc;

/// Milliseconds on a monotonic clock.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// A monotonic clock that starts at 0 now.
pub fn system() -> Clock {
    let start = std::time::Instant::now();
    Arc::new(move || start.elapsed().as_millis() as u64)
}

/// A clock that moves only when told: the handle adds milliseconds.
#[cfg(test)]
pub fn manual() -> (Clock, Arc<std::sync::atomic::AtomicU64>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let now = Arc::new(AtomicU64::new(0));
    let read = Arc::clone(&now);
    (Arc::new(move || read.load(Ordering::SeqCst)), now)
}
