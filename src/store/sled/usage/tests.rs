use super::*;
use crate::domain::usage::{DayTotals, KeySource, Tokens, day_of, day_start_ms};

const DAY: u64 = 86_400_000;
/// 2026-12-04T00:00:00Z.
const T0: u64 = 20_426 * DAY;

pub(super) fn event(at_ms: u64, key: &str, provider: &str, attempt: u32, last: bool) -> UsageEvent {
    UsageEvent {
        id: Ulid::from_parts(at_ms, u128::from(attempt) + rand_part(key)),
        request_id: format!("req-{at_ms}"),
        access_key_id: key.to_owned(),
        provider: provider.to_owned(),
        provider_name: provider.to_uppercase(),
        model: "m".to_owned(),
        attempt_number: attempt,
        is_final_attempt: last,
        status_code: if last { 200 } else { 503 },
        timed_out: false,
        is_error: !last,
        is_streaming: false,
        stop_reason: "stop".to_owned(),
        tokens: Tokens {
            input: 10,
            output: 5,
            known: true,
            ..Tokens::default()
        },
        cost_nanos: Some(1_000),
        key: KeySource::None,
        latency_ms: 3,
        ttfb_ms: Some(1),
        raw: None,
    }
}

fn rand_part(key: &str) -> u128 {
    key.bytes().map(u128::from).sum::<u128>() << 8
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn query(start_ms: u64, end_ms: u64) -> EventQuery {
    EventQuery {
        start_ms,
        end_ms,
        include_retries: true,
        limit: 100,
        ..EventQuery::default()
    }
}

fn ids(page: &Page<UsageEvent>) -> Vec<(u64, u32)> {
    page.items
        .iter()
        .map(|e| (e.at_ms() - T0, e.attempt_number))
        .collect()
}

#[test]
fn events_come_back_newest_first_filtered_and_paged() {
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let events = vec![
        event(T0 + 1, "admin", "a", 1, false),
        event(T0 + 2, "admin", "b", 2, true),
        event(T0 + 3, "k1", "a", 1, true),
        event(T0 + 4, "k1", "a", 1, true),
    ];
    runtime().block_on(usage.append(events)).unwrap();

    let all = usage.events(&query(T0, T0 + 10)).unwrap();
    assert_eq!(ids(&all), [(4, 1), (3, 1), (2, 2), (1, 1)]);
    assert!(!all.has_more);

    let finals = usage
        .events(&EventQuery {
            include_retries: false,
            ..query(T0, T0 + 10)
        })
        .unwrap();
    assert_eq!(ids(&finals), [(4, 1), (3, 1), (2, 2)]);

    let admin = EventQuery {
        access_key: Some("admin".into()),
        ..query(T0, T0 + 10)
    };
    assert_eq!(ids(&usage.events(&admin).unwrap()), [(2, 2), (1, 1)]);
    let admin_final = EventQuery {
        include_retries: false,
        ..admin.clone()
    };
    assert_eq!(ids(&usage.events(&admin_final).unwrap()), [(2, 2)]);

    // Bounds are inclusive; pages continue below the last id seen.
    assert_eq!(
        ids(&usage.events(&query(T0 + 2, T0 + 3)).unwrap()),
        [(3, 1), (2, 2)]
    );
    let first = usage
        .events(&EventQuery {
            limit: 3,
            ..query(T0, T0 + 10)
        })
        .unwrap();
    assert!(first.has_more);
    let next = usage
        .events(&EventQuery {
            limit: 3,
            before: Some(first.items[2].id),
            ..query(T0, T0 + 10)
        })
        .unwrap();
    assert_eq!(ids(&next), [(1, 1)]);
    assert!(!next.has_more);
}

#[test]
fn day_sums_count_requests_once_and_every_attempt_s_cost() {
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let rt = runtime();
    rt.block_on(usage.append(vec![
        event(T0 + 1, "admin", "a", 1, false),
        event(T0 + 2, "admin", "a", 2, true),
    ]))
    .unwrap();
    // A second batch adds to the same day's sums.
    rt.block_on(usage.append(vec![event(T0 + DAY + 5, "k1", "a", 1, true)]))
        .unwrap();
    let day = day_of(T0);
    let by_provider = usage.days(Group::Provider, day, day + 1).unwrap();
    let first = &by_provider[&(day, "a".to_owned())];
    assert_eq!((first.requests, first.errors, first.attempts), (1, 0, 2));
    assert_eq!((first.cost_nanos, first.input_tokens), (2_000, 20));
    assert_eq!(by_provider[&(day + 1, "a".to_owned())].requests, 1);
    let by_key = usage.days(Group::AccessKey, day, day).unwrap();
    assert_eq!(
        by_key.keys().collect::<Vec<_>>(),
        [&(day, "admin".to_owned())]
    );
}

#[test]
fn pruning_removes_old_events_their_index_entries_and_old_days() {
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let rt = runtime();
    rt.block_on(usage.append(vec![
        event(T0 + 1, "k1", "a", 1, true),
        event(T0 + DAY + 1, "k1", "a", 1, true),
    ]))
    .unwrap();
    let removed = rt.block_on(usage.prune_before(T0 + DAY)).unwrap();
    assert_eq!(removed, 1);
    let keyed = EventQuery {
        access_key: Some("k1".into()),
        include_retries: false,
        ..query(0, T0 + 2 * DAY)
    };
    assert_eq!(ids(&usage.events(&keyed).unwrap()), [(DAY + 1, 1)]);
    let day = day_of(T0);
    let left = usage.days(Group::Provider, day, day + 1).unwrap();
    assert_eq!(left.keys().map(|k| k.0).collect::<Vec<_>>(), [day + 1]);
    assert_eq!(day_start_ms(day + 1), T0 + DAY);
}

#[test]
fn what_was_appended_is_there_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
        runtime()
            .block_on(usage.append(vec![event(T0 + 1, "k1", "a", 1, true)]))
            .unwrap();
    }
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    assert_eq!(ids(&usage.events(&query(T0, T0 + 1)).unwrap()), [(1, 1)]);
}

#[test]
fn a_batch_is_refused_whole_below_the_reserve() {
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, u64::MAX).unwrap();
    let err = runtime()
        .block_on(usage.append(vec![event(T0 + 1, "k1", "a", 1, true)]))
        .unwrap_err();
    assert!(matches!(err, StoreError::Full { .. }), "{err}");
    assert!(usage.events(&query(0, T0 + 2)).unwrap().items.is_empty());
}

fn at(ms: u64, rand: u128, key: &str, last: bool) -> UsageEvent {
    UsageEvent {
        id: Ulid::from_parts(ms, rand),
        ..event(ms, key, "a", 1, last)
    }
}

/// Every page of `q`, `limit` at a time, as one list of ids.
fn all_pages(usage: &SledUsage, q: &EventQuery, limit: usize) -> Vec<Ulid> {
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = usage
            .events(&EventQuery {
                limit,
                before,
                ..q.clone()
            })
            .unwrap();
        seen.extend(page.items.iter().map(|e| e.id));
        if !page.has_more {
            return seen;
        }
        before = page.items.last().map(|e| e.id);
    }
}

#[test]
fn events_that_arrive_late_are_listed_in_id_order_with_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let rt = runtime();
    // 200 events over three keys, in batches whose ids interleave with the batch before:
    // each batch's lower half arrives after a higher id was written.
    let mut made = Vec::new();
    for round in 0..4u64 {
        let batch: Vec<UsageEvent> = (0..50u64)
            .map(|i| {
                let ms = T0 + round * 30 + i;
                let key = ["k1", "k2", "admin"][(i % 3) as usize];
                at(ms, u128::from(i), key, i % 4 != 0)
            })
            .collect();
        made.extend(
            batch
                .iter()
                .map(|e| (e.id, e.access_key_id.clone(), e.is_final_attempt)),
        );
        rt.block_on(usage.append(batch)).unwrap();
    }
    made.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (key, retries) in [
        (None, true),
        (None, false),
        (Some("k2"), true),
        (Some("admin"), false),
    ] {
        let q = EventQuery {
            access_key: key.map(str::to_owned),
            include_retries: retries,
            ..query(T0, T0 + 1000)
        };
        let want: Vec<Ulid> = made
            .iter()
            .filter(|(_, k, last)| key.is_none_or(|key| k == key) && (retries || *last))
            .map(|(id, ..)| *id)
            .collect();
        for limit in [1, 7, 64, 500] {
            assert_eq!(
                all_pages(&usage, &q, limit),
                want,
                "{key:?} {retries} {limit}"
            );
        }
    }
    // A window inside the interleaved part.
    let q = query(T0 + 40, T0 + 45);
    let want: Vec<Ulid> = made
        .iter()
        .filter(|(id, ..)| (T0 + 40..=T0 + 45).contains(&id.timestamp_ms()))
        .map(|(id, ..)| *id)
        .collect();
    assert_eq!(all_pages(&usage, &q, 3), want);
    assert_eq!(want.len(), 12);
}

#[test]
fn a_prune_inside_a_segment_keeps_the_segment_s_later_events() {
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let rt = runtime();
    let batch: Vec<UsageEvent> = (0..10u64)
        .map(|i| at(T0 + i, 0, if i < 5 { "old" } else { "new" }, true))
        .collect();
    rt.block_on(usage.append(batch)).unwrap();
    // And a loose one before the cut.
    rt.block_on(usage.append(vec![at(T0 + 2, 7, "old", true)]))
        .unwrap();
    assert_eq!(rt.block_on(usage.prune_before(T0 + 5)).unwrap(), 6);
    let left = all_pages(&usage, &query(0, T0 + 100), 100);
    assert_eq!(left.len(), 5);
    assert!(left.iter().all(|id| id.timestamp_ms() >= T0 + 5));
    let old = EventQuery {
        access_key: Some("old".into()),
        ..query(0, T0 + 100)
    };
    assert!(all_pages(&usage, &old, 10).is_empty());
    assert_eq!(usage.oldest_ms().unwrap(), Some(T0 + 5));
    // The old key's index entries went with its events.
    let tree = &usage.0.tree;
    assert_eq!(
        tree.scan_prefix(layout::prefix(layout::KEY_SEGMENTS, Some("old")))
            .count(),
        0
    );
    assert_eq!(
        tree.scan_prefix(layout::prefix(layout::KEY_LOOSE, Some("old")))
            .count(),
        0
    );
}

#[test]
fn a_database_in_the_first_layout_is_rewritten_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<UsageEvent> = (0..100u64)
        .map(|i| at(T0 + i, 0, if i % 2 == 0 { "k1" } else { "k2" }, i % 5 != 0))
        .collect();
    {
        // The first layout: an event per record under its id, and days under `day · group · key`.
        let db = sled::open(dir.path().join(USAGE_DIR)).unwrap();
        let old = db.open_tree("events").unwrap();
        for e in &events {
            old.insert(
                e.id.to_bytes(),
                crate::store::sled::codec::encode(e).unwrap(),
            )
            .unwrap();
        }
        db.open_tree("finals").unwrap().insert(b"x", &[]).unwrap();
        let mut day = day_of(T0).to_be_bytes().to_vec();
        day.extend_from_slice(b"pa");
        let sums = DayTotals {
            requests: 80,
            ..DayTotals::default()
        };
        db.open_tree("days")
            .unwrap()
            .insert(day, crate::store::sled::codec::encode(&sums).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let mut want: Vec<Ulid> = events.iter().map(|e| e.id).collect();
    want.reverse();
    assert_eq!(all_pages(&usage, &query(T0, T0 + 1000), 9), want);
    let k2 = EventQuery {
        access_key: Some("k2".into()),
        include_retries: false,
        ..query(T0, T0 + 1000)
    };
    assert_eq!(all_pages(&usage, &k2, 9).len(), 40);
    let days = usage.days(Group::Provider, day_of(T0), day_of(T0)).unwrap();
    assert_eq!(days[&(day_of(T0), "a".to_owned())].requests, 80);
    let names = usage.0.db.tree_names();
    for gone in ["events", "finals", "days"] {
        assert!(
            !names.iter().any(|n| n.as_ref() == gone.as_bytes()),
            "{gone}"
        );
    }
    drop(usage);
    // And a second open finds nothing to move.
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    assert_eq!(all_pages(&usage, &query(T0, T0 + 1000), 100).len(), 100);
}

#[test]
fn kept_bodies_are_read_only_when_asked_and_pruned_with_their_events() {
    use crate::domain::usage::RawExchange;
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let mut kept = event(T0 + 1, "admin", "a", 1, true);
    let raw = RawExchange {
        request: Some("{\"model\":\"m\"}".into()),
        response: Some("{\"id\":\"c\"}".into()),
    };
    kept.raw = Some(Box::new(raw.clone()));
    let plain = event(T0 + DAY + 1, "admin", "a", 1, true);
    let rt = runtime();
    rt.block_on(usage.append(vec![kept, plain])).unwrap();
    let without = usage.events(&query(T0, T0 + 2 * DAY)).unwrap();
    assert!(without.items.iter().all(|e| e.raw.is_none()));
    let with = EventQuery {
        with_raw: true,
        ..query(T0, T0 + 2 * DAY)
    };
    let listed = usage.events(&with).unwrap().items;
    assert_eq!(listed[1].raw.as_deref(), Some(&raw));
    assert_eq!(listed[0].raw, None);
    rt.block_on(usage.prune_before(T0 + DAY)).unwrap();
    let left = usage.0.tree.scan_prefix([layout::RAW]).count();
    assert_eq!(left, 0, "pruned with its event");
}

#[test]
fn a_reopened_store_starts_its_segments_above_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let first: Vec<UsageEvent> = (0..40u64).map(|i| at(T0 + i, 0, "k1", true)).collect();
    {
        let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
        rt.block_on(usage.append(first.clone())).unwrap();
    }
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    // Those below the first batch's highest id, (T0 + 39, 0), must go loose: 20..=38.
    let second: Vec<UsageEvent> = (20..60u64).map(|i| at(T0 + i, 1, "k1", true)).collect();
    rt.block_on(usage.append(second.clone())).unwrap();
    let mut want: Vec<Ulid> = first.iter().chain(&second).map(|e| e.id).collect();
    want.sort_by_key(|id| std::cmp::Reverse(*id));
    for limit in [1, 7, 100] {
        assert_eq!(all_pages(&usage, &query(T0, T0 + 100), limit), want);
    }
    let loose = usage.0.tree.scan_prefix([layout::LOOSE]).count();
    assert_eq!(loose, 19);
}

#[test]
fn a_prune_over_many_segments_removes_exactly_what_is_older_with_its_index_entries() {
    let dir = tempfile::tempdir().unwrap();
    let usage = SledUsage::open(dir.path(), 1 << 20, 0).unwrap();
    let rt = runtime();
    // 300 batches of 70 events (two segments each: more than one slice of a prune), two keys
    // on both sides of the cut, a loose event in each batch after the first.
    let mut made = Vec::new();
    for b in 0..300u64 {
        let mut batch: Vec<UsageEvent> = (0..70u64)
            .map(|i| at(T0 + b * 100 + i, 0, ["k1", "k2"][(i % 2) as usize], true))
            .collect();
        if b > 0 {
            batch.push(at(T0 + b * 100 - 50, 9, "k2", true));
        }
        made.extend(batch.iter().map(|e| (e.id, e.access_key_id.clone())));
        rt.block_on(usage.append(batch)).unwrap();
    }
    let cut = T0 + 150 * 100 + 35;
    let older = made
        .iter()
        .filter(|(id, _)| id.timestamp_ms() < cut)
        .count() as u64;
    assert_eq!(rt.block_on(usage.prune_before(cut)).unwrap(), older);
    for key in ["k1", "k2"] {
        let q = EventQuery {
            access_key: Some(key.into()),
            ..query(0, T0 + 1_000_000)
        };
        let mut want: Vec<Ulid> = made
            .iter()
            .filter(|(id, k)| k == key && id.timestamp_ms() >= cut)
            .map(|(id, _)| *id)
            .collect();
        want.sort_by_key(|id| std::cmp::Reverse(*id));
        assert_eq!(all_pages(&usage, &q, 50), want, "{key}");
    }
    // No index entry is left for a segment or loose event that went.
    let tree = &usage.0.tree;
    for kind in [layout::KEY_SEGMENTS, layout::KEY_LOOSE] {
        for entry in tree.scan_prefix([kind]) {
            let (key, _) = entry.unwrap();
            let id = layout::id_of(&key).unwrap();
            let target = match kind {
                layout::KEY_SEGMENTS => layout::entry(layout::SEGMENTS, None, id),
                _ => layout::entry(layout::LOOSE, None, id),
            };
            assert!(tree.get(target).unwrap().is_some(), "{id} dangles");
        }
    }
    assert_eq!(usage.oldest_ms().unwrap(), Some(cut));
}
