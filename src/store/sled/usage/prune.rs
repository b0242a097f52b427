//! Retention: the events before a time go, with their index entries and the sums of the days
//! wholly before it, in slices, so that a year of events never sits in memory at once. Each
//! slice is one batch: an index entry never outlives its record for long, and readers pass
//! over one that does.

use std::collections::BTreeSet;

use ulid::Ulid;

use super::layout::*;
use crate::domain::usage::{UsageEvent, day_of};
use crate::store::StoreError;
use crate::store::sled::codec::{decode, encode};

/// How many records one batch of a prune takes.
const SLICE: usize = 256;

/// Removes the events before `before_ms`; answers how many went.
pub(super) fn before(tree: &sled::Tree, before_ms: u64) -> Result<u64, StoreError> {
    let cut = first_of(before_ms);
    // Whole segments: every id below the cut, with their access keys' index entries.
    let mut removed = in_slices(tree, SEGMENTS, cut, |at, bytes, batch| {
        let events: Vec<UsageEvent> = decode(at, bytes)?;
        let max = id_of(at).unwrap_or_default();
        let keys: BTreeSet<&str> = events.iter().map(UsageEvent::access_key).collect();
        for key in keys {
            batch.remove(entry(KEY_SEGMENTS, Some(key), max));
        }
        Ok(events.len() as u64)
    })?;
    removed += straddling(tree, cut)?;
    removed += in_slices(tree, LOOSE, cut, |at, bytes, batch| {
        let event: UsageEvent = decode(at, bytes)?;
        batch.remove(entry(KEY_LOOSE, Some(event.access_key()), event.id));
        Ok(1)
    })?;
    // Kept bodies, by range: most events keep none.
    in_slices(tree, RAW, cut, |_, _, _| Ok(0))?;
    let mut days = sled::Batch::default();
    let mut first_kept_day = vec![DAYS];
    first_kept_day.extend_from_slice(&day_of(before_ms).to_be_bytes());
    for record in tree.range(vec![DAYS]..first_kept_day) {
        days.remove(record?.0);
    }
    tree.apply_batch(days)?;
    Ok(removed)
}

/// Removes the records of `kind` below `cut`, a slice per batch; `each` adds what goes with a
/// record to its batch and answers how many events the record held.
fn in_slices<F>(tree: &sled::Tree, kind: u8, cut: Ulid, mut each: F) -> Result<u64, StoreError>
where
    F: FnMut(&[u8], &[u8], &mut sled::Batch) -> Result<u64, StoreError>,
{
    let mut removed = 0;
    loop {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for record in tree
            .range(entry(kind, None, Ulid(0))..entry(kind, None, cut))
            .take(SLICE)
        {
            let (at, bytes) = record?;
            removed += each(&at, &bytes, &mut batch)?;
            batch.remove(at);
            n += 1;
        }
        if n == 0 {
            return Ok(removed);
        }
        tree.apply_batch(batch)?;
    }
}

/// The segment the cut falls inside keeps only its events at or after the cut; answers how
/// many went.
fn straddling(tree: &sled::Tree, cut: Ulid) -> Result<u64, StoreError> {
    let above = entry(SEGMENTS, None, cut)..=entry(SEGMENTS, None, Ulid(u128::MAX));
    let Some(record) = tree.range(above).next() else {
        return Ok(0);
    };
    let (at, bytes) = record?;
    let events: Vec<UsageEvent> = decode(&at, &bytes)?;
    let gone_n = events.partition_point(|e| e.id < cut);
    if gone_n == 0 {
        return Ok(0);
    }
    let max = id_of(&at).unwrap_or_default();
    let (gone, kept) = events.split_at(gone_n);
    let left: BTreeSet<&str> = kept.iter().map(UsageEvent::access_key).collect();
    let mut batch = sled::Batch::default();
    for key in gone.iter().map(UsageEvent::access_key) {
        if !left.contains(key) {
            batch.remove(entry(KEY_SEGMENTS, Some(key), max));
        }
    }
    batch.insert(at, encode(&kept)?);
    tree.apply_batch(batch)?;
    Ok(gone_n as u64)
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
