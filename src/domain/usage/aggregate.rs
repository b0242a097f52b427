//! A day's sums of usage, by provider and by access key, kept beside the events so that an
//! overview reads a few records per day instead of every event.

use serde::{Deserialize, Serialize};

use super::UsageEvent;

const DAY_MS: u64 = 86_400_000;

/// The UTC day `ms` falls in, counted from the epoch.
pub fn day_of(ms: u64) -> u32 {
    u32::try_from(ms / DAY_MS).unwrap_or(u32::MAX)
}

pub fn day_start_ms(day: u32) -> u64 {
    u64::from(day) * DAY_MS
}

/// What an overview breaks its series down by (`groupBy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Provider,
    AccessKey,
}

impl Group {
    pub const ALL: [Group; 2] = [Group::Provider, Group::AccessKey];

    /// The value of `event` this group keys by.
    pub fn key_of(self, event: &UsageEvent) -> &str {
        match self {
            Group::Provider => &event.provider,
            Group::AccessKey => &event.access_key_id,
        }
    }
}

/// A day's sums for one group key. `requests` and `errors` count final attempts (a request
/// is counted once, however many attempts it took); cost and tokens count every attempt, as
/// each was paid for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTotals {
    pub requests: u64,
    pub errors: u64,
    pub attempts: u64,
    pub cost_nanos: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
}

impl DayTotals {
    pub fn add(&mut self, event: &UsageEvent) {
        if event.is_final_attempt {
            self.requests += 1;
            self.errors += u64::from(event.is_error);
        }
        self.attempts += 1;
        self.cost_nanos = self
            .cost_nanos
            .saturating_add(event.cost_nanos.unwrap_or(0));
        let t = &event.tokens;
        self.input_tokens = self.input_tokens.saturating_add(t.input);
        self.output_tokens = self.output_tokens.saturating_add(t.output);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(t.cache_read);
        self.cache_write_tokens = self.cache_write_tokens.saturating_add(t.cache_write);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(t.reasoning);
    }

    pub fn merge(&mut self, other: &DayTotals) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.attempts += other.attempts;
        self.cost_nanos = self.cost_nanos.saturating_add(other.cost_nanos);
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_write_tokens = self
            .cache_write_tokens
            .saturating_add(other.cache_write_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_days_from_the_epoch() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY_MS - 1), 0);
        assert_eq!(day_of(DAY_MS), 1);
        assert_eq!(day_start_ms(day_of(3 * DAY_MS + 5)), 3 * DAY_MS);
    }
}
