//! Catalog providers' discovered models: one record per catalog id, under that id in the
//! `catalog_models` tree. A store without the tree (every store before model discovery)
//! reads as none discovered, so adding it needs no new store format.

use sled::transaction::ConflictableTransactionError;

use super::SledStore;
use super::codec::{decode, encode};
use super::engine::{failed, reject};
use crate::domain::discovery::CatalogModels;
use crate::store::{CatalogModelsStore, StoreError, UpdateFn, Write};

fn empty(catalog_id: &str) -> CatalogModels {
    CatalogModels {
        catalog_id: catalog_id.to_owned(),
        ..CatalogModels::default()
    }
}

impl CatalogModelsStore for SledStore {
    fn catalog_models(&self, catalog_id: &str) -> Result<CatalogModels, StoreError> {
        let key = catalog_id.as_bytes();
        match self.engine()?.catalog_models.get(key)? {
            Some(bytes) => decode(key, &bytes),
            None => Ok(empty(catalog_id)),
        }
    }

    fn all_catalog_models(&self) -> Result<Vec<CatalogModels>, StoreError> {
        let mut all = Vec::new();
        for entry in self.engine()?.catalog_models.iter() {
            let (key, bytes) = entry?;
            all.push(decode(&key, &bytes)?);
        }
        Ok(all)
    }

    fn update_catalog_models(
        &self,
        catalog_id: &str,
        change: UpdateFn<CatalogModels>,
    ) -> Write<CatalogModels> {
        let catalog_id = catalog_id.to_owned();
        self.write(move |e| {
            let key = catalog_id.as_bytes();
            let result = e.catalog_models.transaction(|tree| {
                let current = match tree.get(key)? {
                    Some(bytes) => decode(key, &bytes).map_err(failed)?,
                    None => empty(&catalog_id),
                };
                match change(&current) {
                    Err(r) => reject(r),
                    Ok(None) => Ok((current, false)),
                    Ok(Some(next)) => {
                        tree.insert(key, encode(&next).map_err(failed)?)?;
                        Ok::<_, ConflictableTransactionError<_>>((next, true))
                    }
                }
            });
            e.settle(result)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Rejection;

    #[test]
    fn a_catalog_providers_models_are_kept_by_its_id_and_read_back_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(store.catalog_models("openai").unwrap(), empty("openai"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let set = |models: Vec<String>| -> UpdateFn<CatalogModels> {
                Box::new(move |c: &CatalogModels| {
                    c.with(models.clone(), 5).map_err(Rejection::Discovery)
                })
            };
            let kept = store
                .update_catalog_models("openai", set(vec!["gpt-4o".into()]))
                .await
                .unwrap()
                .unwrap()
                .wait()
                .await
                .unwrap();
            assert_eq!((kept.version, kept.models.len()), (1, 1));
            let refused = store
                .update_catalog_models("openai", set(vec!["m".into(); 1001]))
                .await
                .unwrap();
            assert!(matches!(refused, Err(Rejection::Discovery(_))));
        });
        drop(store);
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let all = store.all_catalog_models().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].catalog_id, "openai");
        assert_eq!(all[0].models, ["gpt-4o"]);
    }
}
