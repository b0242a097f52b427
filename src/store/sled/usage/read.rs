//! A page of events, newest first: the segments and the loose events that may hold the
//! window's events, each read newest first, merged by id. Segments never overlap, so at most
//! one segment above the window's top reaches into it.

use std::ops::Bound;

use ulid::Ulid;

use super::layout::*;
use crate::domain::usage::{RawExchange, UsageEvent};
use crate::store::sled::codec::decode;
use crate::store::usage::EventQuery;
use crate::store::{Page, StoreError};

type Events<'a> = Box<dyn Iterator<Item = Result<UsageEvent, StoreError>> + 'a>;

pub(super) fn page(tree: &sled::Tree, q: &EventQuery) -> Result<Page<UsageEvent>, StoreError> {
    let empty = Page {
        items: Vec::new(),
        has_more: false,
    };
    let mut upper = last_of(q.end_ms);
    if let Some(before) = q.before {
        // The previous page's last event is below every event of this one.
        match before.0.checked_sub(1) {
            Some(below) => upper = upper.min(Ulid(below)),
            None => return Ok(empty),
        }
    }
    let lower = first_of(q.start_ms);
    if lower > upper {
        return Ok(empty);
    }
    let key = q.access_key.as_deref();
    let wanted = |e: &UsageEvent| {
        e.id >= lower
            && e.id <= upper
            && (q.include_retries || e.is_final_attempt)
            && key.is_none_or(|k| e.access_key() == k)
    };
    let segments = desc(segment_ids(tree, key, lower, upper), |id| {
        let at = entry(SEGMENTS, None, id);
        // An index entry whose segment a prune has just removed is passed over.
        match tree.get(&at)? {
            Some(bytes) => decode(&at, &bytes),
            None => Ok(Vec::new()),
        }
    });
    let loose = desc(loose_ids(tree, key, lower, upper), |id| {
        let at = entry(LOOSE, None, id);
        Ok(match tree.get(&at)? {
            Some(bytes) => vec![decode(&at, &bytes)?],
            None => Vec::new(),
        })
    });
    let mut merged = merge(
        Box::new(segments.filter(move |e| e.as_ref().map_or(true, wanted))),
        Box::new(loose.filter(move |e| e.as_ref().map_or(true, wanted))),
    );
    let mut items = Vec::with_capacity(q.limit.min(1024));
    while items.len() < q.limit {
        match merged.next() {
            Some(event) => {
                let mut event = event?;
                if q.with_raw {
                    event.raw = raw_of(tree, event.id)?;
                }
                items.push(event);
            }
            None => {
                return Ok(Page {
                    items,
                    has_more: false,
                });
            }
        }
    }
    let has_more = merged.next().transpose()?.is_some();
    Ok(Page { items, has_more })
}

/// The bodies `id` kept, if it kept any.
fn raw_of(tree: &sled::Tree, id: Ulid) -> Result<Option<Box<RawExchange>>, StoreError> {
    let Some(bytes) = tree.get(entry(RAW, None, id))? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            key: id.to_string(),
            source: Box::new(e),
        })
}

/// The ids (highest first) of the segments that may hold events in `lower..=upper`.
fn segment_ids<'a>(
    tree: &'a sled::Tree,
    key: Option<&str>,
    lower: Ulid,
    upper: Ulid,
) -> impl Iterator<Item = Result<Ulid, StoreError>> + 'a {
    let kind = if key.is_some() {
        KEY_SEGMENTS
    } else {
        SEGMENTS
    };
    let prefix = prefix(kind, key);
    let mut last = prefix;
    last.extend_from_slice(&[0xff; 16]);
    // The lowest segment ending above the window may begin inside it.
    let above = tree
        .range((
            Bound::Excluded(entry(kind, key, upper)),
            Bound::Included(last),
        ))
        .next();
    let within = tree
        .range(entry(kind, key, lower)..=entry(kind, key, upper))
        .rev();
    above.into_iter().chain(within).map(id_from)
}

/// The ids (highest first) of the loose events in `lower..=upper`.
fn loose_ids<'a>(
    tree: &'a sled::Tree,
    key: Option<&str>,
    lower: Ulid,
    upper: Ulid,
) -> impl Iterator<Item = Result<Ulid, StoreError>> + 'a {
    let kind = if key.is_some() { KEY_LOOSE } else { LOOSE };
    tree.range(entry(kind, key, lower)..=entry(kind, key, upper))
        .rev()
        .map(id_from)
}

fn id_from(entry: sled::Result<(sled::IVec, sled::IVec)>) -> Result<Ulid, StoreError> {
    let (key, _) = entry?;
    id_of(&key).ok_or_else(|| StoreError::Corrupt {
        key: hex::encode(&key),
        source: "a usage entry shorter than an id".into(),
    })
}

/// The events of what `ids` names, highest id first: `load` answers each one's events in
/// ascending order.
fn desc<'a, I, L>(ids: I, load: L) -> impl Iterator<Item = Result<UsageEvent, StoreError>> + 'a
where
    I: Iterator<Item = Result<Ulid, StoreError>> + 'a,
    L: Fn(Ulid) -> Result<Vec<UsageEvent>, StoreError> + 'a,
{
    let mut ids = ids;
    let mut held: Vec<UsageEvent> = Vec::new();
    std::iter::from_fn(move || {
        loop {
            if let Some(event) = held.pop() {
                return Some(Ok(event));
            }
            match ids.next()?.and_then(&load) {
                Ok(events) => held = events,
                Err(e) => return Some(Err(e)),
            }
        }
    })
}

/// Two streams that are each highest id first, as one.
fn merge<'a>(a: Events<'a>, b: Events<'a>) -> Events<'a> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    Box::new(std::iter::from_fn(move || {
        let take_a = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            // An error goes out first, whichever side it is on.
            (Some(Err(_)), _) => true,
            (_, Some(Err(_))) => false,
            (Some(Ok(x)), Some(Ok(y))) => x.id > y.id,
        };
        if take_a { a.next() } else { b.next() }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(n: u128) -> Result<UsageEvent, StoreError> {
        let mut event = super::super::tests::event(1, "k", "p", 1, true);
        event.id = Ulid(n);
        Ok(event)
    }

    #[test]
    fn two_descending_streams_merge_into_one() {
        let a: Events = Box::new([9, 5, 2].into_iter().map(at));
        let b: Events = Box::new([8, 7, 1].into_iter().map(at));
        let ids: Vec<u128> = merge(a, b).map(|e| e.unwrap().id.0).collect();
        assert_eq!(ids, [9, 8, 7, 5, 2, 1]);
    }
}
