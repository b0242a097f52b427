//! Provider keys' routing fields (`weight`, `models`): one JSON value per key id in the
//! `provider_key_routing` tree, written and removed in the transactions that write and remove
//! the key. Beside the record rather than in it, so the postcard encoding of keys stays as
//! every earlier store wrote it; JSON so that a field can be added later without a migration.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use ulid::Ulid;

use super::engine::{Abort, Engine, failed};
use crate::domain::ProviderKey;
use crate::domain::key_routing::KeyRouting;
use crate::store::StoreError;

fn parse(id: &[u8], bytes: Option<&[u8]>) -> Result<KeyRouting, StoreError> {
    match bytes {
        None => Ok(KeyRouting::default()),
        Some(bytes) => serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            key: Ulid::from_bytes(id.try_into().unwrap_or_default()).to_string(),
            source: Box::new(e),
        }),
    }
}

/// The key with the routing kept for it (a read outside a transaction).
pub(super) fn filled(e: &Engine, mut key: ProviderKey) -> Result<ProviderKey, StoreError> {
    let id = key.id.to_bytes();
    key.routing = parse(&id, e.key_routing.get(id)?.as_deref())?;
    Ok(key)
}

/// As [`filled`], inside a transaction.
pub(super) fn filled_in(
    tree: &TransactionalTree,
    mut key: ProviderKey,
) -> Result<ProviderKey, ConflictableTransactionError<Abort>> {
    let id = key.id.to_bytes();
    key.routing = parse(&id, tree.get(id)?.as_deref()).map_err(failed)?;
    Ok(key)
}

/// Writes the key's routing, or removes the entry when it has none.
pub(super) fn write_in(
    tree: &TransactionalTree,
    key: &ProviderKey,
) -> Result<(), ConflictableTransactionError<Abort>> {
    let id = key.id.to_bytes();
    if key.routing.is_empty() {
        tree.remove(&id[..])?;
    } else {
        let bytes = serde_json::to_vec(&key.routing)
            .map_err(|e| StoreError::Encode(Box::new(e)))
            .map_err(failed)?;
        tree.insert(&id[..], bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CreateProvider, NewProvider, NewProviderKey, Provider, ProviderSlug, SecretInput, now_ms,
    };
    use crate::secrets::MasterKey;
    use crate::store::sled::SledStore;
    use crate::store::{KeyStore, ProviderStore};

    fn key(master: &MasterKey, slug: &str, routing: KeyRouting) -> ProviderKey {
        NewProviderKey {
            provider_id: ProviderSlug::parse_shape(slug).unwrap(),
            name: "k".into(),
            secret: SecretInput::Env("K".into()),
            description: None,
            metadata: None,
            routing,
        }
        .into_key(master, now_ms(), "admin")
        .unwrap()
    }

    fn weighted(weight: f64, models: &[&str]) -> KeyRouting {
        KeyRouting {
            weight: Some(weight),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    /// Written with the key, read with it after a reopen, kept by an update of another field,
    /// changed by one of its own, and gone with the key or with its provider's cascade.
    #[actix_web::test]
    async fn routing_is_written_read_and_removed_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let master = MasterKey::generate().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let made = key(&master, "openai", weighted(3.0, &["gpt-4o"]));
        let id = made.id;
        let w = store
            .create_key(made.clone(), false)
            .await
            .unwrap()
            .unwrap();
        w.wait().await.unwrap();
        drop(store);

        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.get_key(id).unwrap().unwrap(), made);
        let listed = store.list_keys(Some("openai"), None, 10).unwrap().items;
        assert_eq!(listed[0].routing, made.routing);
        assert_eq!(store.list_keys(None, None, 10).unwrap().items, listed);

        let renamed = store.update_key(
            id,
            Box::new(|k: &ProviderKey| {
                Ok(Some(ProviderKey {
                    name: "renamed".into(),
                    ..k.clone()
                }))
            }),
        );
        let renamed = renamed.await.unwrap().unwrap().wait().await.unwrap();
        assert_eq!(renamed.routing, made.routing);
        let cleared = store.update_key(
            id,
            Box::new(|k: &ProviderKey| {
                Ok(Some(ProviderKey {
                    routing: KeyRouting::default(),
                    ..k.clone()
                }))
            }),
        );
        cleared.await.unwrap().unwrap().wait().await.unwrap();
        let e = store.engine().unwrap();
        assert!(e.key_routing.is_empty());
        assert_eq!(
            store.get_key(id).unwrap().unwrap().routing,
            KeyRouting::default()
        );

        let again = key(&master, "openai", weighted(1.0, &[]));
        let w = store
            .create_key(again.clone(), false)
            .await
            .unwrap()
            .unwrap();
        w.wait().await.unwrap();
        assert_eq!(e.key_routing.len(), 1);
        let gone = store
            .delete_key(again.id, None, None)
            .await
            .unwrap()
            .unwrap();
        gone.wait().await.unwrap();
        assert!(e.key_routing.is_empty());

        let provider = Provider::create(
            NewProvider::parse(CreateProvider {
                provider_id: Some("box".into()),
                name: Some("Box".into()),
                base_url: Some("http://127.0.0.1:9/v1".into()),
                ..Default::default()
            })
            .unwrap(),
            &master,
            now_ms(),
            "admin",
        )
        .unwrap();
        let pid = provider.id;
        store
            .create(provider)
            .await
            .unwrap()
            .unwrap()
            .wait()
            .await
            .unwrap();
        let boxed = key(&master, "box", weighted(2.0, &["m"]));
        let w = store.create_key(boxed, true).await.unwrap().unwrap();
        w.wait().await.unwrap();
        assert_eq!(e.key_routing.len(), 1);
        let cascade = Some("admin".to_owned());
        let gone = store.delete(pid, None, cascade).await.unwrap().unwrap();
        gone.wait().await.unwrap();
        assert!(e.key_routing.is_empty());
    }
}
