//! How many providers have each base URL (as `Provider::same_base_url` compares them), in the
//! `provider_base_urls` tree, kept in the transactions that write providers. sled
//! transactions cannot scan, so a create that wants its base URL unique (AgentStack's) reads
//! its one counter inside the transaction that writes it: two such creates racing touch the
//! same key, and sled retries the later one, which then finds the count the first left.
//! A store written before the tree is counted once at open (a marker in `meta` says done).

use sled::transaction::TransactionalTree;

use super::codec::{count_of, decode};
use super::engine::{Engine, TxResult};
use crate::domain::Provider;
use crate::store::StoreError;

/// In `meta`: the counts hold every provider.
const COUNTED: &[u8] = b"base_urls_counted";

fn key(url: &str) -> &[u8] {
    crate::domain::same_base_url(url).as_bytes()
}

/// Whether a provider has this base URL now.
pub(super) fn taken(tree: &TransactionalTree, url: &str) -> TxResult<bool> {
    Ok(count_of(tree.get(key(url))?) > 0)
}

/// One more provider at `url`.
pub(super) fn add(tree: &TransactionalTree, url: &str) -> TxResult<()> {
    let count = count_of(tree.get(key(url))?);
    tree.insert(key(url), &(count + 1).to_be_bytes()[..])?;
    Ok(())
}

/// One provider fewer at `url`; the counter goes when none is left.
pub(super) fn remove(tree: &TransactionalTree, url: &str) -> TxResult<()> {
    match count_of(tree.get(key(url))?) {
        0 | 1 => {
            tree.remove(key(url))?;
        }
        n => {
            tree.insert(key(url), &(n - 1).to_be_bytes()[..])?;
        }
    }
    Ok(())
}

/// A provider changed from `before` to `after`.
pub(super) fn moved(tree: &TransactionalTree, before: &Provider, after: &Provider) -> TxResult<()> {
    if before.same_base_url() != after.same_base_url() {
        remove(tree, &before.base_url)?;
        add(tree, &after.base_url)?;
    }
    Ok(())
}

/// Counts every provider's base URL, once: at open, before any write can run.
pub(super) fn count_once(engine: &Engine) -> Result<(), StoreError> {
    if engine.meta.get(COUNTED)?.is_some() {
        return Ok(());
    }
    let mut counts: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
    for entry in engine.records.iter() {
        let (k, v) = entry?;
        let provider: Provider = decode(&k, &v)?;
        *counts.entry(key(&provider.base_url).to_vec()).or_default() += 1;
    }
    engine.base_urls.clear()?;
    for (url, count) in counts {
        engine.base_urls.insert(url, &count.to_be_bytes()[..])?;
    }
    engine.meta.insert(COUNTED, &[1u8][..])?;
    engine.db.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::domain::extension::Extension;
    use crate::domain::{CreateProvider, NewProvider, Provider, now_ms};
    use crate::secrets::MasterKey;
    use crate::store::sled::SledStore;
    use crate::store::{Cascade, ExtensionStore, ProviderStore, Rejection, UpdateFn};

    fn provider(slug: &str, base_url: &str) -> Provider {
        let new = NewProvider::parse(CreateProvider {
            provider_id: Some(slug.into()),
            name: Some(slug.into()),
            base_url: Some(base_url.into()),
            ..Default::default()
        })
        .expect("valid provider");
        Provider::create(new, &MasterKey::generate().unwrap(), now_ms(), "admin").unwrap()
    }

    /// Whether a create wanting its base URL unique is refused.
    async fn refused(store: &SledStore, slug: &str, url: &str) -> bool {
        let written = store
            .create_extended(provider(slug, url), Extension::default(), None, true)
            .await
            .unwrap();
        match written {
            Err(Rejection::BaseUrlTaken(taken)) => {
                assert_eq!(taken, url);
                true
            }
            Err(other) => panic!("{other:?}"),
            Ok(durable) => {
                durable.wait().await.unwrap();
                false
            }
        }
    }

    #[test]
    fn every_provider_write_keeps_the_counts_and_a_store_without_them_is_counted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let (x, y) = ("http://127.0.0.1:9/x", "http://127.0.0.1:9/y");
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let store = SledStore::open(dir.path(), 1 << 20).unwrap();
            let a = provider("a", x);
            let id = a.id;
            store
                .create(a)
                .await
                .unwrap()
                .unwrap()
                .wait()
                .await
                .unwrap();
            // A trailing slash is the same address.
            assert!(refused(&store, "b", &format!("{x}/")).await);
            let to_y: UpdateFn<Provider> = Box::new(move |p: &Provider| {
                let mut next = p.clone();
                next.base_url = y.into();
                Ok(Some(next))
            });
            store
                .update(id, to_y)
                .await
                .unwrap()
                .unwrap()
                .wait()
                .await
                .unwrap();
            assert!(!refused(&store, "b", x).await, "x was freed by the update");
            assert!(refused(&store, "c", y).await);
            let gone = store.delete(id, None, Cascade::default()).await.unwrap();
            gone.unwrap().wait().await.unwrap();
            assert!(!refused(&store, "c", y).await, "y was freed by the delete");
            // As a store written before the counts: none kept, no marker.
            let engine = store.engine().unwrap();
            engine.base_urls.clear().unwrap();
            engine.meta.remove(super::COUNTED).unwrap();
            engine.db.flush().unwrap();
        });
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        rt.block_on(async {
            assert!(refused(&store, "d", x).await, "b's x counted at open");
            assert!(refused(&store, "d", y).await, "c's y counted at open");
        });
    }
}
