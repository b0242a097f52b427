//! Model discovery: the models a provider lists set against those it declares (`added`,
//! `missing`, `unchanged`), the body that picks which to add, and the change that adds them
//! to a registered provider. A catalog provider's discovered models are a record of their
//! own ([`CatalogModels`]): it declares none, and what discovery finds lets calls name them
//! bare.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::provider::{Model, Provider};
use super::provider_fields::check_model_id;
use super::rules::MAX_MODELS;
use super::{Violations, next_id};

/// The body of `POST /providers/{id}/discover-models?apply=true`: optional.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[schema(as = DiscoverModels, example = json!({"modelIds": ["gpt-4o-mini"]}))]
pub struct DiscoverModels {
    /// Of the models this discovery finds to add (`added`), only these; each must be one
    /// of them. Left out: all of them.
    pub model_ids: Option<Vec<String>>,
}

/// The listed models set against the declared ones. Each list keeps its source's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ModelDiscovery)]
pub struct Diff {
    /// Listed, not declared: what applying adds (or, applied, what it added).
    pub added: Vec<String>,
    /// Declared, not listed: left declared.
    pub missing: Vec<String>,
    /// Declared and listed.
    pub unchanged: Vec<String>,
}

/// `listed` (each once) against `declared`, model ids compared exactly. A listed id that
/// could not be declared (empty, longer than a model id may be, with whitespace) is left out.
pub fn diff<'d>(declared: impl IntoIterator<Item = &'d str>, listed: &[String]) -> Diff {
    let declared: Vec<&str> = declared.into_iter().collect();
    let listed_set: HashSet<&str> = listed.iter().map(String::as_str).collect();
    let declared_set: HashSet<&str> = declared.iter().copied().collect();
    let (unchanged, missing) = declared
        .iter()
        .map(|m| (*m).to_owned())
        .partition(|m| listed_set.contains(m.as_str()));
    Diff {
        added: listed
            .iter()
            .filter(|m| !declared_set.contains(m.as_str()) && check_model_id(m).is_ok())
            .cloned()
            .collect(),
        missing,
        unchanged,
    }
}

/// What of `diff.added` a body chose: all without a list; else the list, each entry one of
/// `added` and given once, or every entry that is not.
pub fn chosen(diff: &Diff, model_ids: Option<Vec<String>>) -> Result<Vec<String>, Violations> {
    let Some(ids) = model_ids else {
        return Ok(diff.added.clone());
    };
    let added: HashSet<&str> = diff.added.iter().map(String::as_str).collect();
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut v = Violations::default();
    for (i, id) in ids.iter().enumerate() {
        if let Some(j) = first.get(id.as_str()) {
            v.add(
                format!("modelIds[{i}]"),
                format!("repeats modelIds[{j}]: give each model once"),
            );
        } else if !added.contains(id.as_str()) {
            v.add(
                format!("modelIds[{i}]"),
                format!(
                    "`{}` is not among the models this discovery would add (`added`): it is \
                     already declared, or the provider does not list it",
                    cut(id)
                ),
            );
        } else {
            first.insert(id, i);
        }
    }
    match v.is_empty() {
        true => Ok(ids),
        false => Err(v),
    }
}

/// A client's id quoted in a message, cut so it cannot bloat the answer.
fn cut(id: &str) -> String {
    match id.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &id[..at]),
        None => id.to_owned(),
    }
}

/// Why models discovered cannot be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryRefusal {
    /// The provider declares no models, so it takes any: declaring some would narrow that,
    /// which `?confirm=true` must say is meant.
    ConfirmRequired,
    /// The provider would declare more than [`MAX_MODELS`].
    TooManyModels { declared: usize, adding: usize },
}

/// `current` with the models of `add` it does not declare yet appended (new ids; the
/// declared keep theirs), or `None` when it declares them all. Checked against the record
/// as it is in the write's transaction.
pub fn add_models(
    current: &Provider,
    add: &[String],
    confirmed: bool,
    now_ms: u64,
    by: &str,
) -> Result<Option<Provider>, DiscoveryRefusal> {
    let declared: HashSet<&str> = current.models.iter().map(|m| m.model_id.as_str()).collect();
    let new: Vec<&String> = add
        .iter()
        .filter(|m| !declared.contains(m.as_str()))
        .collect();
    if new.is_empty() {
        return Ok(None);
    }
    if current.models.is_empty() && !confirmed {
        return Err(DiscoveryRefusal::ConfirmRequired);
    }
    if current.models.len() + new.len() > MAX_MODELS {
        return Err(DiscoveryRefusal::TooManyModels {
            declared: current.models.len(),
            adding: new.len(),
        });
    }
    let mut next = current.clone();
    next.models.extend(new.into_iter().map(|model_id| Model {
        id: next_id(),
        model_id: model_id.clone(),
    }));
    next.updated_at_ms = now_ms.max(current.updated_at_ms);
    next.last_updated_by = by.to_owned();
    next.version = current.version + 1;
    Ok(Some(next))
}

/// A catalog provider's discovered models, kept by its catalog id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogModels {
    pub catalog_id: String,
    /// In the order the provider listed them.
    pub models: Vec<String>,
    /// When they were last discovered (ms since the epoch).
    pub updated_at_ms: u64,
    /// Bumped on every change; 0 for a catalog provider never discovered.
    pub version: u64,
}

impl CatalogModels {
    /// The entity tag of this version: `"<catalogId>-<version>"`.
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.catalog_id, self.version)
    }

    /// The record with `models` as its list, or `None` when that is its list already.
    pub fn with(&self, models: Vec<String>, now_ms: u64) -> Result<Option<Self>, DiscoveryRefusal> {
        if models == self.models {
            return Ok(None);
        }
        if models.len() > MAX_MODELS {
            return Err(DiscoveryRefusal::TooManyModels {
                declared: 0,
                adding: models.len(),
            });
        }
        Ok(Some(CatalogModels {
            catalog_id: self.catalog_id.clone(),
            models,
            updated_at_ms: now_ms.max(self.updated_at_ms),
            version: self.version + 1,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_diff_keeps_each_sides_order_and_leaves_out_ids_that_cannot_be_declared() {
        let d = diff(["b", "a", "gone"], &ids(&["a", "new 1", "z", "b", ""]));
        assert_eq!(d.added, ids(&["z"]));
        assert_eq!(d.unchanged, ids(&["b", "a"]));
        assert_eq!(d.missing, ids(&["gone"]));
    }

    #[test]
    fn a_subset_must_be_of_added_and_each_once() {
        let d = diff([], &ids(&["x", "y"]));
        assert_eq!(chosen(&d, None).unwrap(), ids(&["x", "y"]));
        assert_eq!(chosen(&d, Some(ids(&["y"]))).unwrap(), ids(&["y"]));
        let v = chosen(&d, Some(ids(&["y", "q", "y"])))
            .unwrap_err()
            .to_map();
        assert_eq!(v.keys().collect::<Vec<_>>(), ["modelIds[1]", "modelIds[2]"]);
    }
}
