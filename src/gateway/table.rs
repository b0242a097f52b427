//! The routing table: an immutable snapshot of what the data plane routes to — providers by
//! `providerId`, the models they declare, their sealed keys, and the catalog providers — swapped
//! whole and atomically. Model calls read it and never the store.
//!
//! The snapshot's maps are persistent (`imbl`): a change copies only the path to what changed,
//! so the registry applies each durable write in microseconds however many providers there are,
//! and readers never wait.

use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use imbl::{HashMap, OrdMap};
use ulid::Ulid;

use super::calling::Calling;
use super::error::GatewayError;
use super::upstream::{join, overridden};
use crate::domain::catalog::{CATALOG, CatalogProvider};
use crate::domain::surface::{Format, Surface};
use crate::domain::{ApiSurface, Provider, ProviderKey};
use crate::store::{Store, StoreError};

/// What a model call needs of one provider.
#[derive(Debug, PartialEq)]
pub struct Route {
    /// Each surface's upstream URL, joined on first use: parsing the base URL per call was
    /// ~3% of the data plane's CPU at concurrency 32 (perf, bench/run).
    urls: Urls,
    /// The `providerId` (or catalog id).
    pub slug: String,
    pub base_url: String,
    pub surfaces: Vec<ApiSurface>,
    /// Declared model ids, in their declared spelling; empty when any model passes.
    pub models: Vec<String>,
    /// The format of a provider that declares no surfaces: OpenAI's, but a catalog provider's
    /// own.
    pub format: Format,
    /// Catalog providers need a key; a custom provider with none is called without auth.
    pub catalog: bool,
    /// When the provider was registered (ms since the epoch; 0 for catalog providers).
    pub created_ms: u64,
    /// How the provider's own settings say to call it.
    pub calling: Calling,
    /// The client of its network profile, once a call needed it (see `Gateway::client`).
    pub client: ClientCell,
}

impl Route {
    fn of(provider: &Provider, previous: Option<&Route>) -> Route {
        Route {
            calling: Calling::of(provider, previous.map(|r| &r.calling)),
            client: ClientCell::default(),
            urls: Urls::default(),
            slug: provider.provider_id.as_str().to_owned(),
            base_url: provider.base_url.clone(),
            surfaces: provider.surfaces.clone(),
            models: provider.models.iter().map(|m| m.model_id.clone()).collect(),
            format: Format::OpenAi,
            catalog: false,
            created_ms: provider.created_at_ms,
        }
    }

    fn of_catalog(entry: &CatalogProvider, base_url: &str) -> Route {
        Route {
            urls: Urls::default(),
            slug: entry.id.to_owned(),
            base_url: base_url.to_owned(),
            surfaces: Vec::new(),
            models: Vec::new(),
            format: Format::from_name(entry.format).unwrap_or(Format::OpenAi),
            catalog: true,
            created_ms: 0,
            calling: Calling::default(),
            client: ClientCell::default(),
        }
    }

    pub fn serves(&self, surface: Surface) -> bool {
        surface.served_by(&self.surfaces, self.format)
    }

    /// Where `surface` is called at this provider: `upstream::join` of the base URL, or the
    /// provider's own path for it at the base URL's host.
    pub fn url(&self, surface: Surface) -> Result<&url::Url, GatewayError> {
        let make = || match self.calling.path_override(surface) {
            Some(path) => overridden(&self.base_url, path),
            None => join(&self.base_url, surface.path()),
        };
        let cell = &self.urls.0[surface as usize];
        match cell.get_or_init(|| make().map_err(|_| ())) {
            Ok(url) => Ok(url),
            Err(()) => Err(make().unwrap_err()),
        }
    }
}

/// A cache derived from `calling.network` — the profile's client, and its proxy's URL for the
/// outbound check — so it takes no part in comparing routes.
#[derive(Debug, Default)]
pub struct ClientCell(pub OnceLock<Result<ProfileClient, String>>);

/// A network profile's client, and the proxy it connects to, if any.
pub type ProfileClient = (Arc<reqwest::Client>, Option<url::Url>);

impl PartialEq for ClientCell {
    fn eq(&self, _: &ClientCell) -> bool {
        true
    }
}

/// A cache derived from `base_url`, so it takes no part in comparing routes.
#[derive(Debug, Default)]
struct Urls([OnceLock<Result<url::Url, ()>>; Surface::ALL.len()]);

impl PartialEq for Urls {
    fn eq(&self, _: &Urls) -> bool {
        true
    }
}

/// The providers that declare a model (under one case-folded model id), by id (ULIDs, so in
/// creation order): their `providerId`s. Most model ids have one provider, kept inline (a map
/// each would cost hundreds of bytes per model); a model many providers declare (every box of
/// a fleet serving `llama3.1:8b`) gets a persistent map, so adding the next one costs
/// O(log n), not a copy of the list.
#[derive(Clone)]
enum Declaring {
    One(Ulid, Arc<str>),
    Many(OrdMap<Ulid, Arc<str>>),
}

impl Declaring {
    fn with(self, id: Ulid, slug: Arc<str>) -> Declaring {
        match self {
            Declaring::One(only, _) if only == id => Declaring::One(id, slug),
            Declaring::One(only, other) => {
                Declaring::Many(OrdMap::from_iter([(only, other), (id, slug)]))
            }
            Declaring::Many(mut all) => {
                all.insert(id, slug);
                Declaring::Many(all)
            }
        }
    }

    fn without(self, id: Ulid) -> Option<Declaring> {
        match self {
            Declaring::One(only, _) if only == id => None,
            Declaring::One(..) => Some(self),
            Declaring::Many(mut all) => {
                all.remove(&id);
                match all.len() {
                    0 => None,
                    1 => all
                        .into_iter()
                        .next()
                        .map(|(id, slug)| Declaring::One(id, slug)),
                    _ => Some(Declaring::Many(all)),
                }
            }
        }
    }

    fn slugs(&self) -> Box<dyn Iterator<Item = &Arc<str>> + '_> {
        match self {
            Declaring::One(_, slug) => Box::new(std::iter::once(slug)),
            Declaring::Many(all) => Box::new(all.values()),
        }
    }
}

#[derive(Clone, Default)]
pub struct Snapshot {
    routes: HashMap<Arc<str>, Arc<Route>>,
    /// Every registered provider by id, in creation order: `providerId`.
    created: OrdMap<Ulid, Arc<str>>,
    /// Declared model ids, case-folded.
    by_model: HashMap<Box<str>, Declaring>,
    /// A provider's (or catalog id's) keys by id: newest last.
    keys: HashMap<String, OrdMap<Ulid, Arc<ProviderKey>>>,
    key_owner: HashMap<Ulid, String>,
    catalog: HashMap<String, Arc<Route>>,
}

impl Snapshot {
    /// A registered provider or a catalog provider by its id.
    pub fn route(&self, slug: &str) -> Option<&Arc<Route>> {
        self.routes.get(slug).or_else(|| self.catalog.get(slug))
    }

    /// The providers that declare `model` in any case, in creation order; lazily, as a model
    /// many providers declare is usually settled by the first.
    pub fn declaring<'s>(&'s self, model: &str) -> impl Iterator<Item = &'s Arc<Route>> + 's {
        self.by_model
            .get(model.to_lowercase().as_str())
            .into_iter()
            .flat_map(Declaring::slugs)
            .filter_map(|slug| self.routes.get(slug))
    }

    /// A provider's keys, newest first.
    pub fn keys(&self, slug: &str) -> Vec<Arc<ProviderKey>> {
        self.keys
            .get(slug)
            .map(|keys| keys.values().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Registered providers in creation order.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.created
            .values()
            .filter_map(|slug| self.routes.get(slug))
    }

    fn upsert_provider(&mut self, provider: &Provider) {
        let previous = self
            .created
            .get(&provider.id)
            .and_then(|slug| self.routes.get(slug));
        let route = Route::of(provider, previous.map(|r| &**r));
        // A change that keeps the models (a new name, base URL, surfaces) leaves the model
        // index alone: the index is the costly part to copy.
        let same_models = self
            .created
            .get(&provider.id)
            .and_then(|slug| self.routes.get(slug))
            .is_some_and(|old| old.models == route.models && old.slug == route.slug);
        if same_models {
            self.routes
                .insert(Arc::from(route.slug.as_str()), Arc::new(route));
            return;
        }
        self.remove_provider(provider.id, false);
        let slug: Arc<str> = Arc::from(route.slug.as_str());
        for model in &route.models {
            let key: Box<str> = model.to_lowercase().into();
            let declaring = match self.by_model.remove(&key) {
                Some(d) => d.with(provider.id, Arc::clone(&slug)),
                None => Declaring::One(provider.id, Arc::clone(&slug)),
            };
            self.by_model.insert(key, declaring);
        }
        self.created.insert(provider.id, Arc::clone(&slug));
        self.routes.insert(slug, Arc::new(route));
    }

    fn remove_provider(&mut self, id: Ulid, with_keys: bool) {
        let Some(slug) = self.created.remove(&id) else {
            return;
        };
        if let Some(route) = self.routes.remove(&slug) {
            for model in &route.models {
                let key: Box<str> = model.to_lowercase().into();
                if let Some(rest) = self.by_model.remove(&key).and_then(|d| d.without(id)) {
                    self.by_model.insert(key, rest);
                }
            }
        }
        if with_keys && let Some(keys) = self.keys.remove(&*slug) {
            for id in keys.keys() {
                self.key_owner.remove(id);
            }
        }
    }

    fn upsert_key(&mut self, key: &ProviderKey) {
        let owner = key.provider_id.as_str().to_owned();
        self.key_owner.insert(key.id, owner.clone());
        self.keys
            .entry(owner)
            .or_default()
            .insert(key.id, Arc::new(key.clone()));
    }

    fn remove_key(&mut self, id: Ulid) {
        if let Some(owner) = self.key_owner.remove(&id)
            && let Some(keys) = self.keys.get_mut(&owner)
        {
            keys.remove(&id);
            if keys.is_empty() {
                self.keys.remove(&owner);
            }
        }
    }
}

/// The current snapshot, swapped whole on every change. Writers take turns: racing on a
/// compare-and-swap, each loser would redo its change, and a group commit releases many
/// writers at once.
pub struct RoutingTable {
    current: ArcSwap<Snapshot>,
    writer: Mutex<()>,
}

/// A durable change to apply.
pub enum Change<'a> {
    Provider(&'a Provider),
    /// A deleted provider, and its keys with it.
    ProviderGone(Ulid),
    Key(&'a ProviderKey),
    KeyGone(Ulid),
}

impl RoutingTable {
    /// The table of what `store` holds, with the catalog providers at their base URLs
    /// (`base_url` gives each one's override, if any).
    pub fn load(
        store: &dyn Store,
        base_url: impl Fn(&CatalogProvider) -> String,
    ) -> Result<RoutingTable, StoreError> {
        let mut snapshot = Snapshot::default();
        for entry in CATALOG {
            let route = Route::of_catalog(entry, &base_url(entry));
            snapshot
                .catalog
                .insert(entry.id.to_owned(), Arc::new(route));
        }
        let table = RoutingTable {
            current: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(()),
        };
        table.reload(store)?;
        Ok(table)
    }

    /// Reads every provider and key anew (at start, and after the store reopened itself).
    pub fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _turn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut snapshot = Snapshot {
            catalog: self.current.load().catalog.clone(),
            ..Snapshot::default()
        };
        let mut before = None;
        loop {
            let page = store.list(before, 1000)?;
            for provider in &page.items {
                snapshot.upsert_provider(provider);
            }
            before = page.items.last().map(|p| p.id);
            if !page.has_more {
                break;
            }
        }
        let mut before = None;
        loop {
            let page = store.list_keys(None, before, 1000)?;
            for key in &page.items {
                snapshot.upsert_key(key);
            }
            before = page.items.last().map(|k| k.id);
            if !page.has_more {
                break;
            }
        }
        self.current.store(Arc::new(snapshot));
        Ok(())
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Applies a durable change; the next model call sees it.
    pub fn apply(&self, change: Change<'_>) {
        let _turn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = Snapshot::clone(&self.current.load());
        match change {
            Change::Provider(p) => next.upsert_provider(p),
            Change::ProviderGone(id) => next.remove_provider(id, true),
            Change::Key(k) => next.upsert_key(k),
            Change::KeyGone(id) => next.remove_key(id),
        }
        self.current.store(Arc::new(next));
    }
}

#[cfg(test)]
mod tests;
