use ulid::Ulid;

use super::*;
use crate::domain::usage::{KeySource, Tokens};
use crate::store::sled::usage::SledUsage;

const DAY: u64 = 86_400_000;
/// 2026-12-31T00:00:00Z: the last day of a month.
const NEW_YEARS_EVE: u64 = 20_453 * DAY;

fn event(at_ms: u64, key: &str, cost: Option<u64>, input: u64, output: u64) -> UsageEvent {
    UsageEvent {
        id: Ulid::from_parts(at_ms, Ulid::new().random()),
        request_id: "r".into(),
        access_key_id: key.into(),
        provider: "p".into(),
        provider_name: "P".into(),
        model: "m".into(),
        attempt_number: 1,
        is_final_attempt: true,
        status_code: 200,
        timed_out: false,
        is_error: false,
        is_streaming: false,
        stop_reason: String::new(),
        tokens: Tokens {
            input,
            output,
            cache_read: 1,
            known: true,
            ..Tokens::default()
        },
        cost_nanos: cost,
        key: KeySource::None,
        latency_ms: 1,
        ttfb_ms: None,
        raw: None,
    }
}

#[test]
fn spend_is_counted_per_key_for_its_day_and_month_and_starts_afresh_after() {
    let spend = Spend::default();
    let t = NEW_YEARS_EVE - 5 * DAY;
    spend.count(&event(t, "a", Some(100), 0, 0));
    spend.count(&event(t + 1, "a", Some(50), 0, 0));
    spend.count(&event(t, "b", Some(7), 0, 0));
    spend.count(&event(t, "a", None, 0, 0));
    assert_eq!(spend.spent("a", BudgetPeriod::Day, t + 2), 150);
    assert_eq!(spend.spent("b", BudgetPeriod::Day, t + 2), 7);
    assert_eq!(spend.spent("c", BudgetPeriod::Day, t + 2), 0);

    // The next day: the day starts afresh, the month goes on.
    spend.count(&event(t + DAY, "a", Some(10), 0, 0));
    assert_eq!(spend.spent("a", BudgetPeriod::Day, t + DAY), 10);
    assert_eq!(spend.spent("a", BudgetPeriod::Month, t + DAY), 160);
    // A late event of the day before counts for the month only.
    spend.count(&event(t + 3, "a", Some(1), 0, 0));
    assert_eq!(spend.spent("a", BudgetPeriod::Day, t + DAY), 10);
    assert_eq!(spend.spent("a", BudgetPeriod::Month, t + DAY), 161);
    // Asked in a later period than any event: nothing spent yet.
    assert_eq!(spend.spent("a", BudgetPeriod::Day, t + 2 * DAY), 0);
    assert_eq!(
        spend.spent("a", BudgetPeriod::Month, NEW_YEARS_EVE + DAY),
        0
    );
    assert_eq!(
        spend.spent("a", BudgetPeriod::Month, NEW_YEARS_EVE + DAY - 1),
        161
    );
}

#[test]
fn tokens_are_counted_per_fixed_minute() {
    let spend = Spend::default();
    let t = NEW_YEARS_EVE + 30_000;
    spend.count(&event(t, "a", None, 10, 5));
    spend.count(&event(t + 29_999, "a", None, 1, 1));
    assert_eq!(spend.minute_tokens("a", t + 29_999), 16 + 3);
    assert_eq!(spend.minute_tokens("a", t + 30_000), 0);
    spend.count(&event(t + 30_000, "a", None, 2, 0));
    assert_eq!(spend.minute_tokens("a", t + 30_000), 3);
}

#[test]
fn a_rebuild_from_the_store_finds_the_day_month_and_minute_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let now = NEW_YEARS_EVE + 10 * 60_000 + 30_000;
    let events = vec![
        // Last month: counted for nothing.
        event(NEW_YEARS_EVE - 31 * DAY, "a", Some(1_000), 1, 1),
        // Earlier this month.
        event(NEW_YEARS_EVE - 3 * DAY, "a", Some(200), 1, 1),
        // Today, an earlier minute.
        event(NEW_YEARS_EVE + 60_000, "a", Some(30), 100, 100),
        // Today, this minute.
        event(now - 20_000, "a", Some(4), 10, 5),
        event(now - 10_000, "b", Some(5), 1, 0),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(usage.append(events)).unwrap();
    let spend = Spend::default();
    spend.count(&event(now, "stale", Some(9), 1, 1));
    spend.rebuild(&usage, now).unwrap();
    assert_eq!(spend.spent("a", BudgetPeriod::Day, now), 34);
    assert_eq!(spend.spent("a", BudgetPeriod::Month, now), 234);
    assert_eq!(spend.spent("b", BudgetPeriod::Month, now), 5);
    assert_eq!(spend.minute_tokens("a", now), 16);
    assert_eq!(spend.minute_tokens("b", now), 2);
    assert_eq!(
        spend.spent("stale", BudgetPeriod::Day, now),
        0,
        "replaced whole"
    );
    // Counting goes on from what was rebuilt.
    spend.count(&event(now + 1, "a", Some(6), 0, 0));
    assert_eq!(spend.spent("a", BudgetPeriod::Day, now + 1), 40);
}
