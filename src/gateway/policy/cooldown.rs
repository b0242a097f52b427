//! Provider keys an upstream refused, resting for a while: a key answered 401/402/403 rests for
//! a minute, a rate-limited one for as long as the upstream asked (at most a minute). A resting
//! key is tried after every other key of its provider, never skipped: when it is the only key,
//! a call still gets its chance. Rotating or updating a key ends its rest, because the rest is
//! kept for one version of the key. What each rest is for is kept beside it, so the management
//! API can say why a key is tried last and until when.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;
use std::time::Duration;

use ulid::Ulid;

use super::clock::Clock;

/// How long a key rests after its credential was refused.
pub const REFUSED: Duration = Duration::from_secs(60);
/// How long a rate-limited key rests when the upstream did not say.
pub const RATE_LIMITED: Duration = Duration::from_secs(5);
/// The longest rest an upstream's `retry-after` can ask for.
pub const LONGEST: Duration = Duration::from_secs(60);

/// Why a key rests: the upstream refused its credential (with this status), or rate-limited it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Refused(u16),
    RateLimited,
}

/// A key's rest as it stands: why, and how much of it is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rest {
    pub cause: Cause,
    pub left: Duration,
}

pub struct Cooldowns {
    clock: Clock,
    /// (key id, key version) → end of its rest on `clock`, and the cause of the rest that ends
    /// last.
    until: Mutex<HashMap<(Ulid, u64), (u64, Cause)>>,
}

impl Cooldowns {
    pub fn new(clock: Clock) -> Cooldowns {
        Cooldowns {
            clock,
            until: Mutex::new(HashMap::new()),
        }
    }

    /// Puts `key` to rest. Answers how long when a rest begins, and nothing when the key was
    /// resting already (its rest is made longer, if at all): so each rest is told once, however
    /// many calls the upstream refuses meanwhile. A rest of no time is none.
    pub fn rest(&self, key: (Ulid, u64), how_long: Duration, cause: Cause) -> Option<Duration> {
        let how_long = how_long.min(LONGEST);
        if how_long.is_zero() {
            return None;
        }
        let now = (self.clock)();
        let end = now + how_long.as_millis() as u64;
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        // Rests of keys whose time is up go as new ones come, so the map stays small.
        until.retain(|_, (end, _)| *end > now);
        match until.entry(key) {
            Entry::Occupied(mut resting) => {
                // The rest that ends last is the one a reader is told of.
                let held = resting.get_mut();
                if end > held.0 {
                    *held = (end, cause);
                }
                None
            }
            Entry::Vacant(entry) => {
                entry.insert((end, cause));
                Some(how_long)
            }
        }
    }

    pub fn resting(&self, key: (Ulid, u64)) -> bool {
        self.rest_of(key).is_some()
    }

    /// The rest `key` is in now, if any.
    pub fn rest_of(&self, key: (Ulid, u64)) -> Option<Rest> {
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let (end, cause) = *until.get(&key)?;
        let now = (self.clock)();
        (end > now).then(|| Rest {
            cause,
            left: Duration::from_millis(end - now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_key_rests_until_its_time_is_up_and_a_new_version_does_not_rest() {
        let (clock, now) = super::super::clock::manual();
        now.store(1_000, Ordering::SeqCst);
        let rests = Cooldowns::new(clock);
        let key = Ulid::new();
        let five = Duration::from_secs(5);
        assert_eq!(rests.rest((key, 1), five, Cause::RateLimited), Some(five));
        assert!(rests.resting((key, 1)));
        assert!(!rests.resting((key, 2)), "a rotated key starts afresh");
        now.fetch_add(4_999, Ordering::SeqCst);
        assert!(rests.resting((key, 1)));
        now.fetch_add(1, Ordering::SeqCst);
        assert!(!rests.resting((key, 1)));
        // An upstream cannot make a key rest for more than a minute.
        assert_eq!(
            rests.rest((key, 1), Duration::from_secs(3_600), Cause::RateLimited),
            Some(LONGEST)
        );
        now.fetch_add(LONGEST.as_millis() as u64, Ordering::SeqCst);
        assert!(!rests.resting((key, 1)));
        // A shorter rest never cuts a longer one short.
        assert_eq!(rests.rest((key, 1), REFUSED, REFUSAL), Some(REFUSED));
        assert_eq!(
            rests.rest((key, 1), Duration::from_secs(1), Cause::RateLimited),
            None
        );
        now.fetch_add(2_000, Ordering::SeqCst);
        assert!(rests.resting((key, 1)));
    }

    /// A rest is told when it begins: a key refused again while it rests (by calls that tried
    /// it anyway, as the only key) begins no new one, until its time is up.
    #[test]
    fn only_a_rest_that_begins_is_answered() {
        let (clock, now) = super::super::clock::manual();
        let rests = Cooldowns::new(clock);
        let key = (Ulid::new(), 1);
        assert_eq!(rests.rest(key, REFUSED, REFUSAL), Some(REFUSED));
        assert_eq!(rests.rest(key, REFUSED, REFUSAL), None);
        assert_eq!(
            rests.rest(key, LONGEST * 2, REFUSAL),
            None,
            "made no longer than a minute"
        );
        now.fetch_add(REFUSED.as_millis() as u64, Ordering::SeqCst);
        assert_eq!(
            rests.rest(key, RATE_LIMITED, Cause::RateLimited),
            Some(RATE_LIMITED)
        );
        let other = (Ulid::new(), 1);
        assert_eq!(rests.rest(other, Duration::ZERO, REFUSAL), None);
        assert!(!rests.resting(other));
    }

    /// A reader is told the cause and the time left of the rest that ends last.
    #[test]
    fn a_rest_tells_its_cause_and_time_left() {
        let (clock, now) = super::super::clock::manual();
        let rests = Cooldowns::new(clock);
        let key = (Ulid::new(), 1);
        assert_eq!(rests.rest_of(key), None);
        rests.rest(key, Duration::from_secs(5), Cause::RateLimited);
        now.fetch_add(2_000, Ordering::SeqCst);
        let told = |cause, secs| {
            Some(Rest {
                cause,
                left: Duration::from_secs(secs),
            })
        };
        assert_eq!(rests.rest_of(key), told(Cause::RateLimited, 3));
        // A refusal that ends later takes over; a shorter rate limit does not.
        rests.rest(key, REFUSED, REFUSAL);
        assert_eq!(rests.rest_of(key), told(REFUSAL, 60));
        rests.rest(key, Duration::from_secs(1), Cause::RateLimited);
        assert_eq!(rests.rest_of(key), told(REFUSAL, 60));
        now.fetch_add(60_000, Ordering::SeqCst);
        assert_eq!(rests.rest_of(key), None);
        assert_eq!(rests.rest_of((key.0, 2)), None);
    }

    const REFUSAL: Cause = Cause::Refused(401);
}
