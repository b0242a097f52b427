//! Catalog providers' discovered models in the snapshot: each catalog id's list, and an
//! index by case-folded model id of the catalog providers that list it (in the catalog's
//! order), so a bare name finds them with one lookup, after the registered providers that
//! declare it. A catalog provider still takes any `catalogId:model` name; its list only
//! adds bare names, and `/v1/models` entries.

use std::sync::Arc;

use imbl::HashMap;

use super::{Route, Snapshot};
use crate::domain::catalog::CATALOG;
use crate::domain::discovery::CatalogModels;
use crate::store::{Store, StoreError};

/// What the snapshot holds of catalog providers' discovered models.
#[derive(Clone, Default)]
pub(super) struct Discovered {
    /// catalog id → its record, as last written.
    lists: HashMap<Arc<str>, Arc<CatalogModels>>,
    /// case-folded model id → (catalog id, the model's spelling in its list), catalog order.
    by_model: HashMap<Box<str>, Listing>,
}

/// The catalog providers that list one model: (catalog id, its spelling there).
type Listing = Arc<[(Arc<str>, Box<str>)]>;

fn position(catalog_id: &str) -> usize {
    CATALOG
        .iter()
        .position(|c| c.id == catalog_id)
        .unwrap_or(usize::MAX)
}

impl Discovered {
    /// Replaces `record.catalog_id`'s list, unless what is held is newer.
    pub(super) fn set(&mut self, record: &CatalogModels) {
        let id: Arc<str> = Arc::from(record.catalog_id.as_str());
        if let Some(held) = self.lists.get(&id).cloned() {
            if held.version > record.version {
                return;
            }
            for model in &held.models {
                self.unindex(&id, model);
            }
        }
        for model in &record.models {
            let key: Box<str> = model.to_lowercase().into();
            let mut listing: Vec<_> = self
                .by_model
                .get(&key)
                .map(|l| l.to_vec())
                .unwrap_or_default();
            if listing.iter().any(|(c, _)| *c == id) {
                continue;
            }
            listing.push((Arc::clone(&id), model.as_str().into()));
            listing.sort_by_key(|(c, _)| position(c));
            self.by_model.insert(key, listing.into());
        }
        self.lists.insert(id, Arc::new(record.clone()));
    }

    fn unindex(&mut self, id: &Arc<str>, model: &str) {
        let key: Box<str> = model.to_lowercase().into();
        let Some(listing) = self.by_model.remove(&key) else {
            return;
        };
        let rest: Vec<_> = listing.iter().filter(|(c, _)| c != id).cloned().collect();
        if !rest.is_empty() {
            self.by_model.insert(key, rest.into());
        }
    }
}

impl Snapshot {
    /// Every catalog provider's discovered models as the store holds them.
    pub(super) fn load_discovered(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        for record in store.all_catalog_models()? {
            self.discovered.set(&record);
        }
        Ok(())
    }

    /// The catalog providers whose discovered models hold `model` in any case, in the
    /// catalog's order: each route and the model's spelling in its list.
    pub fn discovered_by<'s>(
        &'s self,
        model: &str,
    ) -> impl Iterator<Item = (&'s Arc<Route>, &'s str)> + 's {
        // A gateway that discovered no catalog models pays no case-folding for them per call.
        let by_model = &self.discovered.by_model;
        (!by_model.is_empty())
            .then(|| by_model.get(model.to_lowercase().as_str()))
            .flatten()
            .into_iter()
            .flat_map(|listing| listing.iter())
            .filter_map(|(id, spelling)| Some((self.catalog.get(&**id)?, &**spelling)))
    }

    /// Each catalog provider's discovered models, in the catalog's order, each list in its
    /// own: the route, the model id, and when the list was discovered (ms).
    pub fn discovered_listed(&self) -> impl Iterator<Item = (&Arc<Route>, &str, u64)> {
        CATALOG
            .iter()
            .filter_map(|c| {
                let record = self.discovered.lists.get(c.id)?;
                let route = self.catalog.get(c.id)?;
                Some((route, record))
            })
            .flat_map(|(route, record)| {
                record
                    .models
                    .iter()
                    .map(move |m| (route, m.as_str(), record.updated_at_ms))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, version: u64, models: &[&str]) -> CatalogModels {
        CatalogModels {
            catalog_id: id.to_owned(),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            updated_at_ms: version,
            version,
        }
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        for entry in CATALOG {
            let route = Route::of_catalog(entry, entry.base_url);
            s.catalog.insert(entry.id.to_owned(), Arc::new(route));
        }
        s
    }

    fn found<'s>(s: &'s Snapshot, model: &str) -> Vec<(&'s str, &'s str)> {
        s.discovered_by(model)
            .map(|(route, spelling)| (route.slug.as_str(), spelling))
            .collect()
    }

    #[test]
    fn a_name_finds_its_catalog_providers_in_catalog_order_in_any_case() {
        let mut s = snapshot();
        s.discovered.set(&record("xai", 1, &["Grok-2", "shared"]));
        s.discovered
            .set(&record("openai", 1, &["shared", "gpt-4o"]));
        assert_eq!(found(&s, "grok-2"), [("xai", "Grok-2")]);
        assert_eq!(
            found(&s, "shared"),
            [("openai", "shared"), ("xai", "shared")]
        );
        let listed: Vec<_> = s
            .discovered_listed()
            .map(|(r, m, _)| (r.slug.as_str(), m))
            .collect();
        assert_eq!(
            listed,
            [
                ("openai", "shared"),
                ("openai", "gpt-4o"),
                ("xai", "Grok-2"),
                ("xai", "shared")
            ]
        );
    }

    #[test]
    fn a_new_list_replaces_the_old_and_an_older_one_is_not_applied() {
        let mut s = snapshot();
        s.discovered.set(&record("openai", 2, &["a", "b"]));
        s.discovered.set(&record("openai", 3, &["b"]));
        assert!(found(&s, "a").is_empty());
        s.discovered.set(&record("openai", 2, &["a", "b"]));
        assert!(found(&s, "a").is_empty());
        assert_eq!(found(&s, "b"), [("openai", "b")]);
    }
}
