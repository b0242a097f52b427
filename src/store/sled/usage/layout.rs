//! How usage is laid out: one tree, so that a batch is one atomic `sled::Batch`, and events
//! packed into segments, so that a batch costs a few tree writes instead of several per
//! event (a sled write costs about as much as the rest of a call: see docs/benchmarks.md).
//!
//! - `s · max ULID` → a segment: up to [`SEGMENT`] events in ascending id order, postcard.
//!   Segments never overlap: each holds only ids above every id written before it.
//! - `l · ULID` → a loose event: one that reached the writer after a higher id was written
//!   (two calls ending in the same millisecond, or a thread preempted between making its
//!   event and queueing it). Rare, so kept one per record.
//! - `k · access key · max ULID` → (): the segment holds events of that access key.
//! - `j · access key · ULID` → (): the loose event is that access key's.
//! - `d · day (u32 BE) · group · key` → that day's sums for the group key.
//! - `r · ULID` → the bodies an event kept (Bifrost's `store_raw_request_response`), JSON,
//!   apart from the event so that a page reads them only when asked.
//!
//! An access key is written length-prefixed (two bytes), so no key's entries fall inside
//! another's whose id starts the same.

use ulid::Ulid;

use crate::domain::usage::Group;

/// The tree everything lives in.
pub(super) const LOG: &str = "log";
/// The most events one segment holds: small enough that a page reads little beyond itself
/// and that a segment stays inline in its sled node.
pub(super) const SEGMENT: usize = 64;

pub(super) const SEGMENTS: u8 = b's';
pub(super) const LOOSE: u8 = b'l';
pub(super) const KEY_SEGMENTS: u8 = b'k';
pub(super) const KEY_LOOSE: u8 = b'j';
pub(super) const DAYS: u8 = b'd';
pub(super) const RAW: u8 = b'r';

/// The prefix of a kind of entry, with the access key for the indexes.
pub(super) fn prefix(kind: u8, access_key: Option<&str>) -> Vec<u8> {
    let mut prefix = vec![kind];
    if let Some(key) = access_key {
        let bytes = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
        prefix.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        prefix.extend_from_slice(bytes);
    }
    prefix
}

pub(super) fn entry(kind: u8, access_key: Option<&str>, id: Ulid) -> Vec<u8> {
    let mut entry = prefix(kind, access_key);
    entry.extend_from_slice(&id.to_bytes());
    entry
}

/// The ULID an entry ends with.
pub(super) fn id_of(entry: &[u8]) -> Option<Ulid> {
    let tail = entry.len().checked_sub(16).map(|at| &entry[at..])?;
    Some(Ulid::from_bytes(tail.try_into().ok()?))
}

fn group_byte(group: Group) -> u8 {
    match group {
        Group::Provider => b'p',
        Group::AccessKey => b'k',
    }
}

pub(super) fn day_prefix(day: u32, group: Group) -> [u8; 6] {
    let mut prefix = [DAYS, 0, 0, 0, 0, group_byte(group)];
    prefix[1..5].copy_from_slice(&day.to_be_bytes());
    prefix
}

pub(super) fn day_entry(day: u32, group: Group, key: &str) -> Vec<u8> {
    let mut entry = day_prefix(day, group).to_vec();
    entry.extend_from_slice(key.as_bytes());
    entry
}

/// The day and group key of a day entry.
pub(super) fn day_of_entry(entry: &[u8]) -> Option<(u32, String)> {
    let day = u32::from_be_bytes(entry.get(1..5)?.try_into().ok()?);
    let key = String::from_utf8(entry.get(6..)?.to_vec()).ok()?;
    Some((day, key))
}

/// The smallest ULID of millisecond `ms`, and the largest.
pub(super) fn first_of(ms: u64) -> Ulid {
    Ulid::from_parts(ms.min((1 << 48) - 1), 0)
}

pub(super) fn last_of(ms: u64) -> Ulid {
    Ulid::from_parts(ms.min((1 << 48) - 1), u128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_entry_ends_with_the_id_after_a_prefix_no_other_key_shares() {
        let id = Ulid::new();
        let entry = entry(KEY_SEGMENTS, Some("admin"), id);
        assert!(entry.starts_with(&prefix(KEY_SEGMENTS, Some("admin"))));
        assert!(!entry.starts_with(&prefix(KEY_SEGMENTS, Some("adm"))));
        assert_eq!(id_of(&entry), Some(id));
    }

    #[test]
    fn a_day_entry_reads_back() {
        let entry = day_entry(20_000, Group::AccessKey, "01J");
        assert!(entry.starts_with(&day_prefix(20_000, Group::AccessKey)));
        assert_eq!(day_of_entry(&entry), Some((20_000, "01J".to_owned())));
    }

    #[test]
    fn a_millisecond_bounds_every_ulid_made_in_it() {
        let id = Ulid::from_parts(1_700_000_000_000, 12345);
        assert!(first_of(1_700_000_000_000) <= id && id <= last_of(1_700_000_000_000));
        assert!(last_of(1_699_999_999_999) < id);
    }
}
