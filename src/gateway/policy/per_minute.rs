//! Each access key's `requestsPerMinute`, counted in memory: a fixed window per key, starting
//! at its first call, so a key at its limit learns exactly when it may call again. Nothing is
//! written: a restart starts every count afresh.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use ulid::Ulid;

const MINUTE_MS: u64 = 60_000;

#[derive(Default)]
pub struct PerMinute {
    windows: Mutex<HashMap<Ulid, (u64, u32)>>,
}

impl PerMinute {
    /// Counts a call of `key` at `now_ms` against `limit`; a call over it is refused with the
    /// wait until the key's next window.
    pub fn admit(&self, key: Ulid, limit: u32, now_ms: u64) -> Result<(), Duration> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        // Keys gone quiet are forgotten, so the map holds only the last minute's callers.
        if windows.len() > 4096 {
            windows.retain(|_, (start, _)| now_ms < *start + MINUTE_MS);
        }
        let (start, count) = windows.entry(key).or_insert((now_ms, 0));
        if now_ms >= *start + MINUTE_MS || now_ms < *start {
            (*start, *count) = (now_ms, 0);
        }
        if *count >= limit {
            return Err(Duration::from_millis(*start + MINUTE_MS - now_ms));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_limit_per_window_and_is_told_when_the_next_starts() {
        let limits = PerMinute::default();
        let (a, b) = (Ulid::new(), Ulid::new());
        assert!(limits.admit(a, 2, 1000).is_ok());
        assert!(limits.admit(a, 2, 1500).is_ok());
        assert_eq!(limits.admit(a, 2, 2000), Err(Duration::from_millis(59_000)));
        assert!(limits.admit(b, 2, 2000).is_ok());
        assert!(limits.admit(a, 2, 61_000).is_ok());
    }
}
