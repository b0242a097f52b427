//! A circuit breaker per provider. A provider that keeps failing — 5 failures in a row, or at
//! least half of 10 or more calls within a minute — is open: its candidates go after the
//! others of the same model, so calls stop paying for its timeouts first. After 30 s it is
//! half-open: it is tried in its turn again, and its next answer closes it (a success) or
//! opens it for another 30 s (a failure). Only failures that say something about the provider
//! count (`Class::Transient`: 5xx, timeouts, no connection, broken streams); a refused key or a
//! refused request does not.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::cooldown::Clock;

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
#[derive(Clone, Copy)]
struct Second {
    at: u64,
    calls: u32,
    failures: u32,
}

#[derive(Default)]
struct Breaker {
    consecutive: u32,
    /// The calls within the window, a bucket per second, oldest first: a busy provider's
    /// minute is at most 61 buckets, however many calls it took.
    window: VecDeque<Second>,
    opened_at: Option<u64>,
}

pub struct Breakers {
    clock: Clock,
    by_provider: Mutex<HashMap<String, Breaker>>,
}

impl Breakers {
    pub fn new(clock: Clock) -> Breakers {
        Breakers {
            clock,
            by_provider: Mutex::new(HashMap::new()),
        }
    }

    pub fn state(&self, provider: &str) -> State {
        let all = self.by_provider.lock().unwrap_or_else(|e| e.into_inner());
        all.get(provider)
            .map_or(State::Closed, |breaker| self.state_of(breaker))
    }

    fn state_of(&self, breaker: &Breaker) -> State {
        match breaker.opened_at {
            None => State::Closed,
            Some(at) if (self.clock)().saturating_sub(at) >= OPEN_MS => State::HalfOpen,
            Some(_) => State::Open,
        }
    }

    /// Notes how a call to `provider` went: `failed` for a failure that counts.
    pub fn record(&self, provider: &str, failed: bool) {
        let now = (self.clock)();
        let mut all = self.by_provider.lock().unwrap_or_else(|e| e.into_inner());
        let Some(b) = all.get_mut(provider) else {
            if failed {
                let mut fresh = Breaker::default();
                fresh.failed(now, provider);
                all.insert(provider.to_owned(), fresh);
            }
            // A healthy provider, the common case, keeps no state at all.
            return;
        };
        if failed {
            b.failed(now, provider);
            return;
        }
        if b.opened_at.is_some() {
            log::info!("provider `{provider}` answered again: its circuit is closed");
            all.remove(provider);
            return;
        }
        b.consecutive = 0;
        b.note(now, false);
        if b.counts().1 == 0 {
            all.remove(provider);
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn breakers() -> (Breakers, Arc<AtomicU64>) {
        let now = Arc::new(AtomicU64::new(0));
        let clock: Clock = {
            let now = Arc::clone(&now);
            Arc::new(move || now.load(Ordering::SeqCst))
        };
        (Breakers::new(clock), now)
    }

    #[test]
    fn five_failures_in_a_row_open_it_and_a_success_between_them_resets_the_count() {
        let (b, _) = breakers();
        for _ in 0..4 {
            b.record("p", true);
        }
        b.record("p", false);
        for _ in 0..4 {
            b.record("p", true);
        }
        assert_eq!(b.state("p"), State::Closed);
        b.record("p", true);
        assert_eq!(b.state("p"), State::Open);
        assert_eq!(b.state("other"), State::Closed);
    }

    #[test]
    fn after_thirty_seconds_it_is_half_open_and_the_probe_decides() {
        let (b, now) = breakers();
        for _ in 0..CONSECUTIVE {
            b.record("p", true);
        }
        now.store(OPEN_MS - 1, Ordering::SeqCst);
        assert_eq!(b.state("p"), State::Open);
        now.store(OPEN_MS, Ordering::SeqCst);
        assert_eq!(b.state("p"), State::HalfOpen);
        // A failed probe opens it again for a full period.
        b.record("p", true);
        assert_eq!(b.state("p"), State::Open);
        now.store(2 * OPEN_MS, Ordering::SeqCst);
        assert_eq!(b.state("p"), State::HalfOpen);
        b.record("p", false);
        assert_eq!(b.state("p"), State::Closed);
    }

    #[test]
    fn half_of_ten_calls_within_a_minute_open_it_and_older_ones_do_not_count() {
        let (b, now) = breakers();
        for i in 0..10 {
            now.store(i * 1_000, Ordering::SeqCst);
            b.record("p", i % 2 == 0);
            assert_eq!(b.state("p"), State::Closed, "call {i}");
        }
        b.record("p", true);
        assert_eq!(b.state("p"), State::Open, "6 of 11");

        let (b, now) = breakers();
        for i in 0..8 {
            now.store(i * 1_000, Ordering::SeqCst);
            b.record("p", i % 2 == 0);
        }
        // A minute on, those eight have left the window: the same pattern starts afresh.
        now.store(WINDOW_MS + 10_000, Ordering::SeqCst);
        for failed in [true, false, true] {
            b.record("p", failed);
        }
        assert_eq!(b.state("p"), State::Closed);
    }

    #[test]
    fn a_busy_providers_minute_takes_a_bucket_per_second() {
        // Found by the soak: a window of every call made each failure count a minute of calls.
        let (b, now) = breakers();
        for i in 0..120_000u64 {
            now.store(i, Ordering::SeqCst);
            b.record("p", i % 5 == 0);
        }
        let all = b.by_provider.lock().unwrap();
        let window = &all["p"].window;
        assert!(window.len() <= 61, "{} buckets", window.len());
        assert_eq!(b.state_of(&all["p"]), State::Closed);
    }
}
