//! Retention: the events before a time go, with their index entries and the sums of the days
//! wholly before it, in slices, so that a year of events never sits in memory at once. Each
//! slice is one batch: an index entry never outlives its record for long, and readers pass
//! over one that does.

use std::collections::BTreeSet;

use super::layout::*;
use crate::domain::usage::{UsageEvent, day_of};
use crate::store::StoreError;
use crate::store::sled::codec::{decode, encode};

/// How many records one batch of a prune takes.
const SLICE: usize = 256;

/// Removes the events before `before_ms`; answers how many went.
pub(super) fn before(tree: &sled::Tree, before_ms: u64) -> Result<u64, StoreError> {
    let cut = first_of(before_ms);
    let mut removed = 0;
    // Whole segments: every id below the cut.
    loop {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for record in tree
            .range(entry(SEGMENTS, None, ulid::Ulid(0))..entry(SEGMENTS, None, cut))
            .take(SLICE)
        {
            let (at, bytes) = record?;
            let events: Vec<UsageEvent> = decode(&at, &bytes)?;
            let max = id_of(&at).unwrap_or_default();
            for key in events
                .iter()
                .map(UsageEvent::access_key)
                .collect::<BTreeSet<_>>()
            {
                batch.remove(entry(KEY_SEGMENTS, Some(key), max));
            }
            batch.remove(at);
            removed += events.len() as u64;
            n += 1;
        }
        if n == 0 {
            break;
        }
        tree.apply_batch(batch)?;
    }
    // The segment the cut falls inside keeps only its events at or after the cut.
    if let Some(record) = tree
        .range(entry(SEGMENTS, None, cut)..=entry(SEGMENTS, None, ulid::Ulid(u128::MAX)))
        .next()
    {
        let (at, bytes) = record?;
        let events: Vec<UsageEvent> = decode(&at, &bytes)?;
        let keep = events.partition_point(|e| e.id < cut);
        if keep > 0 {
            let max = id_of(&at).unwrap_or_default();
            let (gone, kept) = events.split_at(keep);
            let left: BTreeSet<&str> = kept.iter().map(UsageEvent::access_key).collect();
            let mut batch = sled::Batch::default();
            for key in gone.iter().map(UsageEvent::access_key) {
                if !left.contains(key) {
                    batch.remove(entry(KEY_SEGMENTS, Some(key), max));
                }
            }
            batch.insert(at, encode(&kept)?);
            tree.apply_batch(batch)?;
            removed += gone.len() as u64;
        }
    }
    // Loose events.
    loop {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for record in tree
            .range(entry(LOOSE, None, ulid::Ulid(0))..entry(LOOSE, None, cut))
            .take(SLICE)
        {
            let (at, bytes) = record?;
            let event: UsageEvent = decode(&at, &bytes)?;
            batch.remove(entry(KEY_LOOSE, Some(event.access_key()), event.id));
            batch.remove(at);
            n += 1;
        }
        if n == 0 {
            break;
        }
        removed += n;
        tree.apply_batch(batch)?;
    }
    let mut days = sled::Batch::default();
    // Kept bodies, by range: most events keep none.
    loop {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        let range = entry(RAW, None, ulid::Ulid(0))..entry(RAW, None, cut);
        for record in tree.range(range).take(SLICE) {
            batch.remove(record?.0);
            n += 1;
        }
        if n == 0 {
            break;
        }
        tree.apply_batch(batch)?;
    }
    let mut first_kept_day = vec![DAYS];
    first_kept_day.extend_from_slice(&day_of(before_ms).to_be_bytes());
    for record in tree.range(vec![DAYS]..first_kept_day) {
        days.remove(record?.0);
    }
    tree.apply_batch(days)?;
    Ok(removed)
}

/// When the oldest event kept ended, in ms.
pub(super) fn oldest_ms(tree: &sled::Tree) -> Result<Option<u64>, StoreError> {
    let segment = match tree.scan_prefix([SEGMENTS]).next().transpose()? {
        Some((at, bytes)) => decode::<Vec<UsageEvent>>(&at, &bytes)?
            .first()
            .map(|e| e.id),
        None => None,
    };
    let loose = tree
        .scan_prefix([LOOSE])
        .next()
        .transpose()?
        .and_then(|(at, _)| id_of(&at));
    Ok(segment
        .into_iter()
        .chain(loose)
        .min()
        .map(|id| id.timestamp_ms()))
}
