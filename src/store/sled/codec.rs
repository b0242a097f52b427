//! How records and index entries are laid out in sled: records are postcard under their
//! 16-byte big-endian ULID (so newest-first is a reverse range scan); a provider's keys are
//! indexed as `providerId 0x00 key-id`; counters are u64 big-endian.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::IVec;
use ulid::Ulid;

use crate::store::{Page, StoreError};

pub(super) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        key: <[u8; 16]>::try_from(key)
            .map_or_else(|_| hex::encode(key), |k| Ulid::from_bytes(k).to_string()),
        source: Box::new(e),
    })
}

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|e| StoreError::Encode(Box::new(e)))
}

pub(super) fn provider_prefix(slug: &str) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(slug.len() + 1);
    prefix.extend_from_slice(slug.as_bytes());
    prefix.push(0);
    prefix
}

pub(super) fn key_index_entry(slug: &str, id: &[u8; 16]) -> Vec<u8> {
    let mut entry = provider_prefix(slug);
    entry.extend_from_slice(id);
    entry
}

pub(super) fn key_id_from_index(entry: &[u8]) -> [u8; 16] {
    let mut id = [0u8; 16];
    id.copy_from_slice(&entry[entry.len() - 16..]);
    id
}

pub(super) fn count_of(bytes: Option<IVec>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(0, u64::from_be_bytes)
}

pub(super) fn get_in<T: DeserializeOwned>(
    tree: &sled::Tree,
    id: Ulid,
) -> Result<Option<T>, StoreError> {
    let key = id.to_bytes();
    tree.get(key)?.map(|bytes| decode(&key, &bytes)).transpose()
}

/// Reads a page from `entries`, newest first; one entry past the page tells whether more
/// exist, without decoding it or counting the rest.
pub(super) fn page_of<I, T>(
    entries: impl Iterator<Item = sled::Result<I>>,
    limit: usize,
    mut fetch: impl FnMut(I) -> Result<Option<T>, StoreError>,
) -> Result<Page<T>, StoreError> {
    let mut items = Vec::with_capacity(limit);
    for entry in entries {
        let entry = entry?;
        if items.len() == limit {
            return Ok(Page {
                items,
                has_more: true,
            });
        }
        if let Some(item) = fetch(entry)? {
            items.push(item);
        }
    }
    Ok(Page {
        items,
        has_more: false,
    })
}

pub(super) fn decode_entry<T: DeserializeOwned>(
    (key, value): (IVec, IVec),
) -> Result<Option<T>, StoreError> {
    decode(&key, &value).map(Some)
}
