//! A circuit breaker per provider. A provider that keeps failing — 5 failures in a row, or at
//! least half of 10 or more calls within a minute — is open: its candidates go after the
//! others of the same model, so calls stop paying for its timeouts first. After 30 s it is
//! half-open: it is tried in its turn again, and its next answer closes it (a success) or
//! opens it for another 30 s (a failure). Only failures that say something about the provider
//! count (`Class::Transient`: 5xx, timeouts, no connection, broken streams); a refused key or a
//! refused request does not.

use std::collections::VecDeque;

pub const CONSECUTIVE: u32 = 5;
pub const WINDOW_MS: u64 = 60_000;
pub const WINDOW_CALLS: usize = 10;
pub const OPEN_MS: u64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

/// Calls and failures of one second.
#[derive(Debug, Clone, Copy)]
struct Second {
    at: u64,
    calls: u32,
    failures: u32,
}

/// One provider's circuit; `now` is the gateway clock's reading (`policy::clock`).
#[derive(Debug, Default)]
pub struct Breaker {
    consecutive: u32,
    /// The calls within the window, a bucket per second, oldest first: a busy provider's
    /// minute is at most 61 buckets, however many calls it took.
    window: VecDeque<Second>,
    opened_at: Option<u64>,
}

impl Breaker {
    pub fn state(&self, now: u64) -> State {
        match self.opened_at {
            None => State::Closed,
            Some(at) if now.saturating_sub(at) >= OPEN_MS => State::HalfOpen,
            Some(_) => State::Open,
        }
    }

    /// Notes how a call to `provider` went: `failed` for a failure that counts.
    pub fn record(&mut self, now: u64, provider: &str, failed: bool) {
        if failed {
            self.failed(now, provider);
            return;
        }
        if self.opened_at.is_some() {
            log::info!("provider `{provider}` answered again: its circuit is closed");
            *self = Breaker::default();
            return;
        }
        // A healthy provider, the common case, keeps no window at all.
        if self.window.is_empty() {
            return;
        }
        self.consecutive = 0;
        self.note(now, false);
        if self.counts().1 == 0 {
            self.window.clear();
        }
    }
}

impl Breaker {
    /// Counts a call in its second's bucket, and forgets the seconds that left the window.
    fn note(&mut self, now: u64, failed: bool) {
        let at = now / 1000 * 1000;
        match self.window.back_mut() {
            Some(last) if last.at == at => {
                last.calls += 1;
                last.failures += u32::from(failed);
            }
            _ => self.window.push_back(Second {
                at,
                calls: 1,
                failures: u32::from(failed),
            }),
        }
        while self
            .window
            .front()
            .is_some_and(|s| now.saturating_sub(s.at) > WINDOW_MS)
        {
            self.window.pop_front();
        }
    }

    /// (calls, failures) within the window.
    fn counts(&self) -> (usize, usize) {
        self.window.iter().fold((0, 0), |(c, f), s| {
            (c + s.calls as usize, f + s.failures as usize)
        })
    }

    fn failed(&mut self, now: u64, provider: &str) {
        self.consecutive += 1;
        self.note(now, true);
        let (calls, failures) = self.counts();
        let trips =
            self.consecutive >= CONSECUTIVE || (calls >= WINDOW_CALLS && failures * 2 >= calls);
        // A failed probe of a half-open provider opens it again, for another full period.
        let probe = self
            .opened_at
            .is_some_and(|at| now.saturating_sub(at) >= OPEN_MS);
        if (trips && self.opened_at.is_none()) || probe {
            log::warn!(
                "provider `{provider}` keeps failing ({} in a row, {failures} of the last {} \
                 calls): its circuit is open, it is tried after the others for {} s",
                self.consecutive,
                calls,
                OPEN_MS / 1000
            );
            self.opened_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A breaker and the clock it reads, as the gateway drives them.
    #[derive(Default)]
    struct Driven {
        b: Breaker,
        now: u64,
    }

    impl Driven {
        fn record(&mut self, failed: bool) {
            self.b.record(self.now, "p", failed);
        }
        fn state(&self) -> State {
            self.b.state(self.now)
        }
    }

    #[test]
    fn five_failures_in_a_row_open_it_and_a_success_between_them_resets_the_count() {
        let mut b = Driven::default();
        for _ in 0..4 {
            b.record(true);
        }
        b.record(false);
        for _ in 0..4 {
            b.record(true);
        }
        assert_eq!(b.state(), State::Closed);
        b.record(true);
        assert_eq!(b.state(), State::Open);
        assert_eq!(Driven::default().state(), State::Closed);
    }

    #[test]
    fn after_thirty_seconds_it_is_half_open_and_the_probe_decides() {
        let mut b = Driven::default();
        for _ in 0..CONSECUTIVE {
            b.record(true);
        }
        b.now = OPEN_MS - 1;
        assert_eq!(b.state(), State::Open);
        b.now = OPEN_MS;
        assert_eq!(b.state(), State::HalfOpen);
        // A failed probe opens it again for a full period.
        b.record(true);
        assert_eq!(b.state(), State::Open);
        b.now = 2 * OPEN_MS;
        assert_eq!(b.state(), State::HalfOpen);
        b.record(false);
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn half_of_ten_calls_within_a_minute_open_it_and_older_ones_do_not_count() {
        let mut b = Driven::default();
        for i in 0..10 {
            b.now = i * 1_000;
            b.record(i % 2 == 0);
            assert_eq!(b.state(), State::Closed, "call {i}");
        }
        b.record(true);
        assert_eq!(b.state(), State::Open, "6 of 11");

        let mut b = Driven::default();
        for i in 0..8 {
            b.now = i * 1_000;
            b.record(i % 2 == 0);
        }
        // A minute on, those eight have left the window: the same pattern starts afresh.
        b.now = WINDOW_MS + 10_000;
        for failed in [true, false, true] {
            b.record(failed);
        }
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn a_busy_providers_minute_takes_a_bucket_per_second() {
        // Found by the soak: a window of every call made each failure count a minute of calls.
        let mut b = Driven::default();
        for i in 0..120_000u64 {
            b.now = i;
            b.record(i % 5 == 0);
        }
        assert!(b.b.window.len() <= 61, "{} buckets", b.b.window.len());
        assert_eq!(b.state(), State::Closed);
    }
}
