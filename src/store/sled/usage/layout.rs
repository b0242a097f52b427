//! How usage is laid out in its sled database. Events are postcard under their 16-byte ULID,
//! so time order is key order and pruning is a range; indexes name an event by its ULID after
//! a prefix: `finals` (the final attempts), `by_key` and `by_key_final` (an access key's id,
//! length-prefixed, then the ULID). A day's sums are under `day (u32 BE) · group · key`.

use ulid::Ulid;

use crate::domain::usage::Group;

pub(super) const EVENTS: &str = "events";
pub(super) const FINALS: &str = "finals";
pub(super) const BY_KEY: &str = "by_key";
pub(super) const BY_KEY_FINAL: &str = "by_key_final";
pub(super) const DAYS: &str = "days";
/// Since Bifrost's `store_raw_request_response`; a database without it keeps no bodies.
pub(super) const RAW: &str = "raw";

/// An access key's prefix in `by_key` and `by_key_final`: its length (two bytes), its bytes.
pub(super) fn key_prefix(key: &str) -> Vec<u8> {
    let bytes = &key.as_bytes()[..key.len().min(u16::MAX as usize)];
    let mut prefix = Vec::with_capacity(2 + bytes.len() + 16);
    prefix.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    prefix.extend_from_slice(bytes);
    prefix
}

pub(super) fn key_entry(key: &str, id: Ulid) -> Vec<u8> {
    let mut entry = key_prefix(key);
    entry.extend_from_slice(&id.to_bytes());
    entry
}

/// The ULID an index entry ends with.
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

pub(super) fn day_prefix(day: u32, group: Group) -> [u8; 5] {
    let mut prefix = [0u8; 5];
    prefix[..4].copy_from_slice(&day.to_be_bytes());
    prefix[4] = group_byte(group);
    prefix
}

pub(super) fn day_entry(day: u32, group: Group, key: &str) -> Vec<u8> {
    let mut entry = day_prefix(day, group).to_vec();
    entry.extend_from_slice(key.as_bytes());
    entry
}

/// The day and group key of a `days` entry.
pub(super) fn day_of_entry(entry: &[u8]) -> Option<(u32, String)> {
    let day = u32::from_be_bytes(entry.get(..4)?.try_into().ok()?);
    let key = String::from_utf8(entry.get(5..)?.to_vec()).ok()?;
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
    fn a_key_entry_ends_with_the_event_id_after_a_prefix_no_other_key_shares() {
        let id = Ulid::new();
        let entry = key_entry("admin", id);
        assert!(entry.starts_with(&key_prefix("admin")));
        assert!(!entry.starts_with(&key_prefix("adm")));
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
