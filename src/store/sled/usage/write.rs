//! What a batch of events becomes: segments for the ids above every id written so far, loose
//! records for the rest, index entries per access key, and the days' sums added to, all in
//! one `sled::Batch`.

use std::collections::{BTreeMap, BTreeSet};

use ulid::Ulid;

use super::layout::*;
use crate::domain::usage::{DayTotals, Group, UsageEvent, day_of};
use crate::store::StoreError;
use crate::store::sled::codec::{decode, encode};

/// Adds `events` to `batch`, given the highest id any segment holds (`high`); answers the new
/// highest. `events` must be sorted by id.
pub(super) fn add_events(
    batch: &mut sled::Batch,
    events: &[UsageEvent],
    high: Ulid,
) -> Result<Ulid, StoreError> {
    for event in events {
        if let Some(raw) = &event.raw {
            let json = serde_json::to_vec(raw).map_err(|e| StoreError::Encode(Box::new(e)))?;
            batch.insert(entry(RAW, None, event.id), json);
        }
    }
    let fresh_from = events.partition_point(|e| e.id <= high);
    let (loose, fresh) = events.split_at(fresh_from);
    for event in loose {
        batch.insert(entry(LOOSE, None, event.id), encode(event)?);
        batch.insert(entry(KEY_LOOSE, Some(event.access_key()), event.id), &[]);
    }
    let mut new_high = high;
    for segment in fresh.chunks(SEGMENT) {
        let Some(last) = segment.last() else { continue };
        batch.insert(entry(SEGMENTS, None, last.id), encode(&segment)?);
        let keys: BTreeSet<&str> = segment.iter().map(UsageEvent::access_key).collect();
        for key in keys {
            batch.insert(entry(KEY_SEGMENTS, Some(key), last.id), &[]);
        }
        new_high = last.id;
    }
    Ok(new_high)
}

/// Adds `events` to their days' sums in `batch`, reading the sums as `tree` holds them: the
/// caller is the only writer of days, so nothing changes them in between.
pub(super) fn add_days(
    batch: &mut sled::Batch,
    tree: &sled::Tree,
    events: &[UsageEvent],
) -> Result<(), StoreError> {
    let mut sums: BTreeMap<(u32, Group, &str), DayTotals> = BTreeMap::new();
    for event in events {
        let day = day_of(event.at_ms());
        for group in Group::ALL {
            sums.entry((day, group, group.key_of(event)))
                .or_default()
                .add(event);
        }
    }
    for ((day, group, key), add) in sums {
        let at = day_entry(day, group, key);
        let mut total: DayTotals = match tree.get(&at)? {
            Some(bytes) => decode(&at, &bytes)?,
            None => DayTotals::default(),
        };
        total.merge(&add);
        batch.insert(at, encode(&total)?);
    }
    Ok(())
}

/// The highest id a segment holds, or zero when none does.
pub(super) fn highest(tree: &sled::Tree) -> Result<Ulid, StoreError> {
    Ok(tree
        .scan_prefix([SEGMENTS])
        .next_back()
        .transpose()?
        .and_then(|(k, _)| id_of(&k))
        .unwrap_or(Ulid(0)))
}
