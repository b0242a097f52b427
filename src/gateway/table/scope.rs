//! An access key configuration's `access` as calls check it: worked out once, when the
//! configuration is written, into hash sets, so a call's candidate is checked with a few
//! lookups however long the lists are, and a call with an allow-all key checks nothing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use ulid::Ulid;

use super::{Route, Snapshot};
use crate::domain::{AccessScope, EVERY_MODEL, parse_id};

/// Which providers and models an access key may call; a candidate must pass both.
#[derive(Debug, Default)]
pub struct Scope {
    /// `None`: any provider.
    providers: Option<Providers>,
    /// `None`: any model.
    models: Option<Models>,
}

#[derive(Debug, Default)]
struct Providers {
    slugs: HashSet<Box<str>>,
    ids: HashSet<Ulid>,
}

/// `models.allow`, model ids case-folded (calls match them ignoring case).
#[derive(Debug, Default)]
struct Models {
    /// `providerId:*`.
    every: HashSet<Box<str>>,
    /// `providerId:modelId` by `providerId`: what it means while that id is registered.
    qualified: HashMap<Box<str>, HashSet<Box<str>>>,
    /// Bare model ids, at any provider.
    bare: HashSet<Box<str>>,
    /// Entries whose prefix could be a `providerId`: bare model ids only while no provider
    /// (or catalog id) has that id.
    bare_unless_registered: HashSet<Box<str>>,
}

/// Whether `prefix` is spelt as a `providerId` can be: only then may it name one.
fn slug_shaped(prefix: &str) -> bool {
    prefix
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && prefix.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

impl Scope {
    /// The scope `access` says; `None` is allow-all.
    pub fn of(access: Option<&AccessScope>) -> Scope {
        let Some(access) = access else {
            return Scope::default();
        };
        let providers = access.providers.as_ref().map(|list| {
            let mut p = Providers::default();
            for entry in list {
                match parse_id(entry) {
                    Some(id) => p.ids.insert(id),
                    None => p.slugs.insert(entry.as_str().into()),
                };
            }
            p
        });
        let models = access.models.as_ref().map(|list| {
            let mut m = Models::default();
            for entry in list {
                let folded = entry.to_lowercase();
                match entry.split_once(':') {
                    Some((prefix, EVERY_MODEL)) if slug_shaped(prefix) => {
                        m.every.insert(prefix.into());
                    }
                    Some((prefix, model)) if slug_shaped(prefix) => {
                        m.qualified
                            .entry(prefix.into())
                            .or_default()
                            .insert(model.to_lowercase().into());
                        m.bare_unless_registered.insert(folded.into());
                    }
                    _ => {
                        m.bare.insert(folded.into());
                    }
                }
            }
            m
        });
        Scope { providers, models }
    }

    /// What a key scoped by a configuration the table does not hold may call: nothing.
    pub fn nothing() -> Arc<Scope> {
        static NOTHING: LazyLock<Arc<Scope>> = LazyLock::new(|| {
            Arc::new(Scope {
                providers: Some(Providers::default()),
                models: Some(Models::default()),
            })
        });
        Arc::clone(&NOTHING)
    }

    /// Whether the provider passes the `providers` dimension.
    pub fn allows_provider(&self, route: &Route) -> bool {
        self.providers.as_ref().is_none_or(|p| {
            p.slugs.contains(route.slug.as_str()) || route.id.is_some_and(|id| p.ids.contains(&id))
        })
    }

    /// Whether model `model` (as the upstream knows it) at `route` passes both dimensions.
    pub fn allows(&self, snapshot: &Snapshot, route: &Route, model: &str) -> bool {
        if !self.allows_provider(route) {
            return false;
        }
        let Some(m) = &self.models else {
            return true;
        };
        if m.every.contains(route.slug.as_str()) {
            return true;
        }
        let folded = model.to_lowercase();
        m.qualified
            .get(route.slug.as_str())
            .is_some_and(|models| models.contains(folded.as_str()))
            || m.bare.contains(folded.as_str())
            || (m.bare_unless_registered.contains(folded.as_str())
                && folded
                    .split_once(':')
                    .is_none_or(|(prefix, _)| snapshot.route(prefix).is_none()))
    }
}
