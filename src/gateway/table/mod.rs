//! The routing table: an immutable snapshot of what the data plane routes to — providers by
//! `providerId`, the models they declare, their sealed keys, the catalog providers, the model
//! aliases and prices — swapped whole and atomically, with the gateway's own settings
//! (`/gateway-config`). Model calls read it and never the store.
//!
//! The snapshot's maps are persistent (`imbl`): a change copies only the path to what changed,
//! so the registry applies each durable write in microseconds however many providers there are,
//! and readers never wait.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use imbl::{HashMap, HashSet, OrdMap};
use ulid::Ulid;

pub mod aliases;
pub mod calling;
mod catalog_models;
mod declaring;
pub mod dialect;
pub mod prices;
mod route;
pub mod rules;
pub mod scope;

pub use route::{ClientCell, ProfileClient, Route};
pub use rules::{Rules, Taken};
pub use scope::Scope;

use declaring::Declaring;
use dialect::Dialect;

use super::state::ProviderState;

use crate::domain::catalog::{CATALOG, CatalogProvider};
use crate::domain::discovery::CatalogModels;
use crate::domain::extension::Extension;
use crate::domain::gateway_config::GatewayConfig;
use crate::domain::surface::{Format, Surface};
use crate::domain::{AccessKeyConfiguration, ModelAlias, ModelPrice, Provider, ProviderKey};
use crate::store::{Store, StoreError};

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
    /// The catalog providers' discovered models (`catalog_models`).
    discovered: catalog_models::Discovered,
    /// `/gateway-config` as last written.
    gateway_config: Arc<GatewayConfig>,
    /// Each access key configuration's scope, worked out when it was written.
    scopes: HashMap<Ulid, Arc<Scope>>,
    /// The router rules of each configuration that has any, worked out when it was written.
    rules: HashMap<Ulid, Arc<Rules>>,
    aliases: aliases::Aliases,
    prices: prices::Prices,
    /// Each provider's dialect as of the provider version that last wrote its extension (a
    /// write of the ngrok API keeps the extension, so the route it makes keeps this).
    dialects: HashMap<Ulid, (u64, Option<Arc<Dialect>>)>,
    /// The version of each provider and key held, and the ids deleted since the table was
    /// (re)loaded. Writes publish after their group commit in whatever order their tasks
    /// resume, so a change can arrive after a later one: an older version, or any change to
    /// a deleted record (ids are never reused), is not applied.
    versions: HashMap<Ulid, u64>,
    gone: HashSet<Ulid>,
}

impl Snapshot {
    /// The gateway's own settings (`/gateway-config`).
    pub fn gateway_config(&self) -> &GatewayConfig {
        &self.gateway_config
    }

    /// What a caller scoped by `configuration` may call: `None` (allow-all) for none; a
    /// configuration the table does not hold (deleted as the call began) allows nothing.
    pub fn scope(&self, configuration: Option<Ulid>) -> Option<Arc<Scope>> {
        let id = configuration?;
        Some(self.scopes.get(&id).cloned().unwrap_or_else(Scope::nothing))
    }

    /// The router rules a caller scoped by `configuration` calls with, if it has any.
    pub fn rules(&self, configuration: Option<Ulid>) -> Option<&Rules> {
        self.rules.get(&configuration?).map(|r| &**r)
    }

    /// The `providerId` of the registered provider with this `id`.
    pub fn slug_of(&self, id: Ulid) -> Option<&str> {
        self.created.get(&id).map(|slug| &**slug)
    }

    /// The `providerId` (or catalog id) of the provider key with this id.
    pub fn key_owner(&self, id: Ulid) -> Option<&str> {
        self.key_owner.get(&id).map(String::as_str)
    }

    /// Whether a registered provider has this `id`.
    pub fn has_provider(&self, id: Ulid) -> bool {
        self.created.contains_key(&id)
    }

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

    /// The models a caller of `format`'s routes may name, as `(provider, declared model id)`:
    /// each registered provider that serves a surface of that format, oldest first, with its
    /// declared models in their order. A provider that declares none (any model passes) has
    /// nothing to list.
    pub fn listed(&self, format: Format) -> impl Iterator<Item = (&Arc<Route>, &str)> {
        self.providers()
            .filter(move |route| {
                Surface::ALL
                    .into_iter()
                    .any(|s| s.format() == format && route.serves(s))
            })
            .flat_map(|route| route.models.iter().map(move |m| (route, m.as_str())))
    }

    /// The runtime state of the provider with this id, as this snapshot routes it.
    fn state_of(&self, id: Ulid) -> Option<Arc<ProviderState>> {
        let slug = self.created.get(&id)?;
        self.routes.get(slug).map(|r| Arc::clone(&r.state))
    }

    /// Whether a change at `version` to record `id` is as new as what the table holds.
    fn current(&self, id: Ulid, version: u64) -> bool {
        !self.gone.contains(&id) && self.versions.get(&id).is_none_or(|held| version >= *held)
    }

    /// A deleted record: it and (for a provider) its keys are never brought back.
    fn bury(&mut self, id: Ulid) {
        let slug = self.created.get(&id).cloned();
        if let Some(keys) = slug.and_then(|slug| self.keys.get(&*slug).cloned()) {
            for key in keys.keys() {
                self.versions.remove(key);
                self.gone.insert(*key);
            }
        }
        self.versions.remove(&id);
        self.dialects.remove(&id);
        self.gone.insert(id);
    }

    fn upsert_provider(&mut self, provider: &Provider, state: Option<Arc<ProviderState>>) {
        self.versions.insert(provider.id, provider.version);
        let dialect = self.dialects.get(&provider.id).and_then(|(_, d)| d.clone());
        let route = Route::of(provider, state, dialect);
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
        self.versions.insert(key.id, key.version);
        let owner = key.provider_id.as_str().to_owned();
        self.key_owner.insert(key.id, owner.clone());
        self.keys
            .entry(owner)
            .or_default()
            .insert(key.id, Arc::new(key.clone()));
    }

    fn set_configuration(&mut self, c: &AccessKeyConfiguration) {
        self.versions.insert(c.id, c.version);
        self.scopes
            .insert(c.id, Arc::new(Scope::of(c.access.as_ref())));
        match Rules::of(c.router.as_ref()) {
            Some(rules) => self.rules.insert(c.id, Arc::new(rules)),
            None => self.rules.remove(&c.id),
        };
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
    /// A provider written with its dialect extension (the dialects' writes).
    Extended(&'a Provider, &'a Extension),
    /// A deleted provider, and its keys with it.
    ProviderGone(Ulid),
    Key(&'a ProviderKey),
    KeyGone(Ulid),
    GatewayConfig(&'a GatewayConfig),
    Configuration(&'a AccessKeyConfiguration),
    ConfigurationGone(Ulid),
    Alias(&'a ModelAlias),
    AliasGone(Ulid),
    Price(&'a ModelPrice),
    PriceGone(Ulid),
    CatalogModels(&'a CatalogModels),
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

    /// Reads every provider and key, and the gateway's settings, anew (at start, and after the
    /// store reopened itself).
    pub fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _turn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut snapshot = Snapshot {
            catalog: self.current.load().catalog.clone(),
            gateway_config: Arc::new(store.gateway_config()?),
            ..Snapshot::default()
        };
        // What the running gateway learnt of each provider outlives the reload.
        let old = self.current.load_full();
        let extensions: std::collections::HashMap<Ulid, Extension> =
            store.all_extensions()?.into_iter().collect();
        let mut before = None;
        loop {
            let page = store.list(before, 1000)?;
            for provider in &page.items {
                if let Some(extension) = extensions.get(&provider.id) {
                    let dialect = Dialect::of(extension);
                    snapshot
                        .dialects
                        .insert(provider.id, (provider.version, dialect));
                }
                snapshot.upsert_provider(provider, old.state_of(provider.id));
            }
            before = page.items.last().map(|p| p.id);
            if !page.has_more {
                break;
            }
        }
        snapshot.load_discovered(store)?;
        for c in store.all_configurations()? {
            snapshot.set_configuration(&c);
        }
        snapshot.load_aliases(store)?;
        snapshot.load_prices(store)?;
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
            Change::Provider(p) if next.current(p.id, p.version) => {
                let state = next.state_of(p.id);
                next.upsert_provider(p, state);
            }
            Change::Extended(p, extension) => next.extended(p, extension),
            Change::ProviderGone(id) => {
                next.bury(id);
                next.remove_provider(id, true);
            }
            Change::Key(k) if next.current(k.id, k.version) => next.upsert_key(k),
            Change::KeyGone(id) => {
                next.bury(id);
                next.remove_key(id);
            }
            Change::GatewayConfig(c) if c.version >= next.gateway_config.version => {
                next.gateway_config = Arc::new(c.clone());
            }
            Change::Configuration(c) if next.current(c.id, c.version) => next.set_configuration(c),
            Change::CatalogModels(c) => next.discovered.set(c),
            Change::ConfigurationGone(id) => {
                next.bury(id);
                next.scopes.remove(&id);
                next.rules.remove(&id);
            }
            Change::Alias(a) if next.current(a.id, a.version) => next.set_alias(a),
            Change::AliasGone(id) => {
                next.bury(id);
                next.remove_alias(id);
            }
            Change::Price(p) if next.current(p.id, p.version) => next.set_price(p),
            Change::PriceGone(id) => {
                next.bury(id);
                next.remove_price(id);
            }
            // Older than what the table holds: a later write was published first.
            Change::Provider(_)
            | Change::Key(_)
            | Change::GatewayConfig(_)
            | Change::Configuration(_)
            | Change::Alias(_)
            | Change::Price(_) => return,
        }
        self.current.store(Arc::new(next));
    }
}

#[cfg(test)]
mod tests;
