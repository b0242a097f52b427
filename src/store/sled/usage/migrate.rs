//! The first layout kept an event per record in `events`, three index trees and a `days`
//! tree. A usage database in that layout is rewritten into segments when opened, before any
//! batch: its events and days are copied, then the old trees dropped, `events` before `days`:
//! a crash while `events` is still there is redone from the start on the next open; after it,
//! the copy was whole and what is left is only dropped. (A downgrade to the first layout and
//! back would redo the copy over what the segment layout wrote meanwhile: not supported.)

use ulid::Ulid;

use super::layout::*;
use super::write::add_events;
use crate::domain::usage::UsageEvent;
use crate::store::StoreError;
use crate::store::sled::codec::decode;

const OLD_EVENTS: &str = "events";
const OLD_DAYS: &str = "days";
const OLD_INDEXES: [&str; 3] = ["finals", "by_key", "by_key_final"];
const SLICE: usize = 4096;

/// Rewrites an old-layout database into `tree`; answers how many events it moved.
pub(super) fn from_first_layout(db: &sled::Db, tree: &sled::Tree) -> Result<u64, StoreError> {
    let has = |name: &str| {
        db.tree_names()
            .iter()
            .any(|n| n.as_ref() == name.as_bytes())
    };
    if !has(OLD_EVENTS) {
        // A crash after `events` went leaves what was dropped after it: all copied already.
        for name in OLD_INDEXES.into_iter().chain([OLD_DAYS]) {
            if has(name) {
                db.drop_tree(name)?;
            }
        }
        return Ok(0);
    }
    // What a crashed run copied is copied again.
    tree.clear()?;
    let old = db.open_tree(OLD_EVENTS)?;
    let mut high = Ulid(0);
    let mut moved = 0;
    let mut events = Vec::with_capacity(SLICE);
    let mut records = old.iter();
    loop {
        events.clear();
        for record in records.by_ref().take(SLICE) {
            let (at, bytes) = record?;
            events.push(decode::<UsageEvent>(&at, &bytes)?);
        }
        if events.is_empty() {
            break;
        }
        let mut batch = sled::Batch::default();
        high = add_events(&mut batch, &events, high)?;
        tree.apply_batch(batch)?;
        moved += events.len() as u64;
    }
    if has(OLD_DAYS) {
        let mut batch = sled::Batch::default();
        for record in db.open_tree(OLD_DAYS)?.iter() {
            let (at, bytes) = record?;
            let mut entry = vec![DAYS];
            entry.extend_from_slice(&at);
            batch.insert(entry, bytes);
        }
        tree.apply_batch(batch)?;
    }
    db.flush()?;
    for name in OLD_INDEXES.into_iter().chain([OLD_EVENTS, OLD_DAYS]) {
        if has(name) {
            db.drop_tree(name)?;
        }
    }
    db.flush()?;
    Ok(moved)
}
