//! What each credential's calls cost in the current UTC day and month, and the tokens they
//! used in the current minute: counted in memory from the usage events as they are recorded,
//! so that the data plane checks an access key's `budget` and `tokensPerMinute` without
//! reading the store. At start the day's and month's spend are rebuilt from the usage store's
//! daily sums and the minute's tokens from its events, so a restart resets neither.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::budget::{BudgetPeriod, minute_of};
use crate::domain::usage::{Group, Tokens, UsageEvent, day_of};
use crate::store::StoreError;
use crate::store::usage::{EventQuery, UsageStore};

/// Events read per page when the minute's tokens are rebuilt.
const REBUILD_PAGE: usize = 1000;

/// One credential's counts, each for the period it was last added to.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    day: u32,
    day_nanos: u64,
    /// The month's first day.
    month: u32,
    month_nanos: u64,
    /// The minute's start, in ms.
    minute: u64,
    minute_tokens: u64,
}

/// Adds `n` to `count` when `at` is its period, starts the count afresh when `at` is a later
/// one; an event of an earlier period (recorded late) counts for none that is still open.
fn add<T: Ord + Copy>(period: &mut T, count: &mut u64, at: T, n: u64) {
    if at > *period {
        (*period, *count) = (at, 0);
    }
    if at == *period {
        *count = count.saturating_add(n);
    }
}

/// What `tokensPerMinute` counts: input (cached or not) and output tokens.
fn tokens_of(t: &Tokens) -> u64 {
    t.input
        .saturating_add(t.cache_read)
        .saturating_add(t.cache_write)
        .saturating_add(t.output)
}

#[derive(Default)]
pub struct Spend {
    /// By the event's `accessKeyId`.
    keys: Mutex<HashMap<String, Tally>>,
}

impl Spend {
    /// Counts one recorded event: its cost for its day and month, its tokens for its minute.
    pub fn count(&self, event: &UsageEvent) {
        let at = event.at_ms();
        let cost = event.cost_nanos.unwrap_or(0);
        let tokens = tokens_of(&event.tokens);
        if cost == 0 && tokens == 0 {
            return;
        }
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let tally = match keys.get_mut(event.access_key()) {
            Some(tally) => tally,
            None => keys.entry(event.access_key().to_owned()).or_default(),
        };
        add(&mut tally.day, &mut tally.day_nanos, day_of(at), cost);
        let month = BudgetPeriod::Month.first_day(at);
        add(&mut tally.month, &mut tally.month_nanos, month, cost);
        add(
            &mut tally.minute,
            &mut tally.minute_tokens,
            minute_of(at).0,
            tokens,
        );
    }

    /// What `key` spent in the `period` that `now_ms` falls in, in nano-dollars.
    pub fn spent(&self, key: &str, period: BudgetPeriod, now_ms: u64) -> u64 {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tally) = keys.get(key) else {
            return 0;
        };
        match period {
            BudgetPeriod::Day if tally.day == day_of(now_ms) => tally.day_nanos,
            BudgetPeriod::Month if tally.month == period.first_day(now_ms) => tally.month_nanos,
            _ => 0,
        }
    }

    /// The tokens `key` used in the minute `now_ms` falls in.
    pub fn minute_tokens(&self, key: &str, now_ms: u64) -> u64 {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key)
            .filter(|tally| tally.minute == minute_of(now_ms).0)
            .map_or(0, |tally| tally.minute_tokens)
    }

    /// Rebuilds the counts of the day, month and minute `now_ms` falls in from `store`: the
    /// daily sums by access key for the spend, the minute's events for its tokens.
    pub fn rebuild(&self, store: &dyn UsageStore, now_ms: u64) -> Result<(), StoreError> {
        let (today, month) = (day_of(now_ms), BudgetPeriod::Month.first_day(now_ms));
        let minute = minute_of(now_ms).0;
        let mut fresh: HashMap<String, Tally> = HashMap::new();
        for ((day, key), totals) in store.days(Group::AccessKey, month, today)? {
            let tally = fresh.entry(key).or_default();
            add(
                &mut tally.month,
                &mut tally.month_nanos,
                month,
                totals.cost_nanos,
            );
            if day == today {
                add(
                    &mut tally.day,
                    &mut tally.day_nanos,
                    today,
                    totals.cost_nanos,
                );
            }
        }
        let mut query = EventQuery {
            start_ms: minute,
            end_ms: u64::MAX,
            include_retries: true,
            limit: REBUILD_PAGE,
            ..EventQuery::default()
        };
        loop {
            let page = store.events(&query)?;
            for event in &page.items {
                let tally = fresh.entry(event.access_key().to_owned()).or_default();
                let tokens = tokens_of(&event.tokens);
                add(&mut tally.minute, &mut tally.minute_tokens, minute, tokens);
            }
            match (page.has_more, page.items.last()) {
                (true, Some(last)) => query.before = Some(last.id),
                _ => break,
            }
        }
        *self.keys.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
