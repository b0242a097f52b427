//! A tree of whole records under their ULID, and nothing else to keep in step: the stored API
//! keys and the access keys are each one. Creating, paging, listing and deleting such a record
//! are the same for every kind; only the tree and the record's type differ.

use serde::Serialize;
use serde::de::DeserializeOwned;
use ulid::Ulid;

use super::codec::{decode, decode_entry, encode, page_of};
use super::engine::{Applied, Engine, failed, reject};
use crate::domain::Precondition;
use crate::store::{Page, Rejection, StoreError};

/// Adds `record` under `id`.
pub(super) fn insert<T: Serialize>(
    e: &Engine,
    tree: &sled::Tree,
    id: Ulid,
    record: T,
) -> Applied<T> {
    let (key, value) = (id.to_bytes(), encode(&record)?);
    let result = tree.transaction(|records| {
        records.insert(&key[..], value.as_slice())?;
        Ok(((), true))
    });
    Ok(e.settle(result)?.map(|w| w.map(|()| record)))
}

/// Up to `limit` records with ids below `before` (all when `None`), newest first.
pub(super) fn page<T: DeserializeOwned>(
    tree: &sled::Tree,
    before: Option<Ulid>,
    limit: usize,
) -> Result<Page<T>, StoreError> {
    let entries = match before {
        Some(before) => tree.range(..before.to_bytes()),
        None => tree.iter(),
    };
    page_of(entries.rev(), limit, decode_entry)
}

/// Every record, oldest first.
pub(super) fn all<T: DeserializeOwned>(tree: &sled::Tree) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .map(|entry| {
            let (id, bytes) = entry?;
            decode(&id, &bytes)
        })
        .collect()
}

/// Removes the record under `id` if `precondition` allows it, as `etag` tags it; answers it
/// as it was.
pub(super) fn remove<T: DeserializeOwned>(
    e: &Engine,
    tree: &sled::Tree,
    id: Ulid,
    precondition: Option<Precondition>,
    etag: impl Fn(&T) -> String,
) -> Applied<T> {
    let key = id.to_bytes();
    let result = tree.transaction(|records| {
        let Some(bytes) = records.get(key)? else {
            return reject(Rejection::NotFound);
        };
        let current: T = decode(&key, &bytes).map_err(failed)?;
        if precondition
            .as_ref()
            .is_some_and(|p| !p.allows(&etag(&current)))
        {
            return reject(Rejection::PreconditionFailed);
        }
        records.remove(&key[..])?;
        Ok((current, true))
    });
    e.settle(result)
}
