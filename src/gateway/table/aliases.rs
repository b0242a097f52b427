//! Model aliases as calls see them: by case-folded name, one hash lookup for a call's model
//! (none at all while no alias exists), each alias's target and fallbacks as written; and
//! what the registry checks a new alias against (the names aliases point at).

use std::sync::Arc;

use imbl::{HashMap, HashSet, OrdMap};
use ulid::Ulid;

use super::Snapshot;
use crate::domain::{ModelAlias, fold_model};
use crate::store::{Store, StoreError};

#[derive(Clone, Default)]
pub struct Aliases {
    /// By case-folded alias.
    by_name: HashMap<Box<str>, Arc<ModelAlias>>,
    /// In creation order (ULIDs), for listing.
    by_id: OrdMap<Ulid, Arc<ModelAlias>>,
    /// Case-folded targets and fallbacks: the aliases naming each.
    pointed: HashMap<Box<str>, HashSet<Ulid>>,
}

impl Aliases {
    /// The alias named `folded` (already case-folded).
    pub fn named(&self, folded: &str) -> Option<&Arc<ModelAlias>> {
        self.by_name.get(folded)
    }

    /// The aliases whose target or a fallback is `folded` (already case-folded).
    pub fn pointing_at<'s>(&'s self, folded: &str) -> impl Iterator<Item = &'s Arc<ModelAlias>> {
        self.pointed
            .get(folded)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.by_id.get(id))
    }

    /// Every alias, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ModelAlias>> {
        self.by_id.values()
    }

    fn points(alias: &ModelAlias) -> impl Iterator<Item = Box<str>> + '_ {
        std::iter::once(&alias.target)
            .chain(&alias.fallbacks)
            .map(|m| fold_model(m).into_boxed_str())
    }

    fn set(&mut self, alias: &ModelAlias) {
        self.remove(alias.id);
        let alias = Arc::new(alias.clone());
        for point in Aliases::points(&alias) {
            self.pointed.entry(point).or_default().insert(alias.id);
        }
        self.by_name
            .insert(fold_model(&alias.alias).into(), Arc::clone(&alias));
        self.by_id.insert(alias.id, alias);
    }

    fn remove(&mut self, id: Ulid) {
        let Some(old) = self.by_id.remove(&id) else {
            return;
        };
        let name = fold_model(&old.alias);
        if self.by_name.get(name.as_str()).is_some_and(|a| a.id == id) {
            self.by_name.remove(name.as_str());
        }
        for point in Aliases::points(&old) {
            if let Some(ids) = self.pointed.get_mut(&point) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.pointed.remove(&point);
                }
            }
        }
    }
}

impl Snapshot {
    pub fn aliases(&self) -> &Aliases {
        &self.aliases
    }

    /// The alias a call for `model` goes through, if any. A `providerId:` name is always the
    /// provider's, even when the provider was registered after an alias of that spelling.
    pub fn alias_for(&self, model: &str) -> Option<&ModelAlias> {
        if self.aliases.by_name.is_empty() {
            return None;
        }
        let alias = self.aliases.by_name.get(fold_model(model).as_str())?;
        match model.split_once(':') {
            Some((prefix, _)) if self.route(prefix).is_some() => None,
            _ => Some(alias),
        }
    }

    pub(super) fn load_aliases(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        for alias in store.all_model_aliases()? {
            self.set_alias(&alias);
        }
        Ok(())
    }

    pub(super) fn set_alias(&mut self, alias: &ModelAlias) {
        self.versions.insert(alias.id, alias.version);
        self.aliases.set(alias);
    }

    pub(super) fn remove_alias(&mut self, id: Ulid) {
        self.aliases.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewModelAlias;

    fn alias(name: &str, target: &str, fallbacks: &[&str]) -> ModelAlias {
        NewModelAlias {
            alias: name.into(),
            target: target.into(),
            fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
            description: None,
            metadata: None,
        }
        .into_alias(1, "admin")
    }

    #[test]
    fn a_change_moves_every_index_and_a_removal_empties_them() {
        let mut snapshot = Snapshot::default();
        assert!(snapshot.alias_for("gpt-4o").is_none());
        let mut a = alias("GPT-4o", "local:qwen", &["b"]);
        snapshot.set_alias(&a);
        assert_eq!(snapshot.alias_for("gpt-4O").unwrap().target, "local:qwen");
        assert_eq!(snapshot.aliases().pointing_at("b").count(), 1);
        a.alias = "other".into();
        a.fallbacks.clear();
        a.version += 1;
        snapshot.set_alias(&a);
        assert!(snapshot.alias_for("gpt-4o").is_none());
        assert!(snapshot.alias_for("OTHER").is_some());
        assert_eq!(snapshot.aliases().pointing_at("b").count(), 0);
        assert_eq!(snapshot.aliases().pointing_at("local:qwen").count(), 1);
        snapshot.remove_alias(a.id);
        assert!(snapshot.aliases().iter().next().is_none());
        assert!(snapshot.aliases().pointed.is_empty() && snapshot.aliases().by_name.is_empty());
    }
}
