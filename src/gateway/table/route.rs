//! One provider as the data plane calls it: where each surface goes, what it declares, how
//! its settings say to call it, and its runtime state (shared by every version of the route).

use std::sync::{Arc, OnceLock};

use super::calling::Calling;
use super::dialect::Dialect;
use crate::domain::catalog::CatalogProvider;
use crate::domain::surface::{Format, Surface};
use crate::domain::{ApiSurface, Provider};
use crate::gateway::attempt::request::{join, overridden};
use crate::gateway::error::GatewayError;
use crate::gateway::state::ProviderState;

/// What a model call needs of one provider.
#[derive(Debug)]
pub struct Route {
    /// Each surface's upstream URL, joined on first use: parsing the base URL per call was
    /// ~3% of the data plane's CPU at concurrency 32 (perf, bench/run).
    urls: Urls,
    /// The `providerId` (or catalog id).
    pub slug: String,
    /// A registered provider's `id`; `None` for a catalog provider.
    pub id: Option<ulid::Ulid>,
    /// Its `name` (a catalog provider's id), as usage events show it.
    pub name: String,
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
    /// The client of its network profile, once a call needed it (see `gateway::client`).
    pub client: ClientCell,
    /// What calls have taught the gateway of this provider, and its queue.
    pub state: Arc<ProviderState>,
    /// What its dialect extension asks of its calls, if anything.
    pub dialect: Option<Arc<Dialect>>,
}

impl Route {
    /// The route of `provider`; `state` is its previous version's, if it had one.
    pub(super) fn of(
        provider: &Provider,
        state: Option<Arc<ProviderState>>,
        dialect: Option<Arc<Dialect>>,
    ) -> Route {
        let calling = Calling::of(provider);
        let state = state.unwrap_or_default();
        state.size_queue(calling.queue);
        Route {
            calling,
            state,
            client: ClientCell::default(),
            urls: Urls::default(),
            slug: provider.provider_id.as_str().to_owned(),
            id: Some(provider.id),
            name: provider.name.clone(),
            base_url: provider.base_url.clone(),
            surfaces: provider.surfaces.clone(),
            models: provider.models.iter().map(|m| m.model_id.clone()).collect(),
            format: Format::OpenAi,
            catalog: false,
            created_ms: provider.created_at_ms,
            dialect,
        }
    }

    /// The route `provider` would have, for a record not (yet) in the table: with a state of
    /// its own, which nothing else shares.
    pub fn unpublished(provider: &Provider) -> Route {
        Route::of(provider, None, None)
    }

    /// This route with another dialect: its settings and state as they are, its caches anew.
    pub(super) fn redialed(&self, dialect: Option<Arc<Dialect>>) -> Route {
        Route {
            urls: Urls::default(),
            slug: self.slug.clone(),
            id: self.id,
            name: self.name.clone(),
            base_url: self.base_url.clone(),
            surfaces: self.surfaces.clone(),
            models: self.models.clone(),
            format: self.format,
            catalog: self.catalog,
            created_ms: self.created_ms,
            calling: self.calling.clone(),
            client: ClientCell::default(),
            state: Arc::clone(&self.state),
            dialect,
        }
    }

    pub(super) fn of_catalog(entry: &CatalogProvider, base_url: &str) -> Route {
        Route {
            urls: Urls::default(),
            slug: entry.id.to_owned(),
            id: None,
            name: entry.id.to_owned(),
            base_url: base_url.to_owned(),
            surfaces: Vec::new(),
            models: Vec::new(),
            format: Format::from_name(entry.format).unwrap_or(Format::OpenAi),
            catalog: true,
            created_ms: 0,
            calling: Calling::default(),
            client: ClientCell::default(),
            state: Arc::default(),
            dialect: None,
        }
    }

    pub fn serves(&self, surface: Surface) -> bool {
        surface.served_by(&self.surfaces, self.format)
    }

    /// Where `surface` is called at this provider: `request::join` of the base URL, or the
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

/// A cache derived from `calling.network`: the profile's client, and its proxy's URL for the
/// outbound check.
#[derive(Debug, Default)]
pub struct ClientCell(pub OnceLock<Result<ProfileClient, String>>);

/// A network profile's client, and the proxy it connects to, if any.
pub type ProfileClient = (Arc<reqwest::Client>, Option<url::Url>);

/// A cache derived from `base_url`.
#[derive(Debug, Default)]
struct Urls([OnceLock<Result<url::Url, ()>>; Surface::ALL.len()]);

/// Routes compare by what they say, not by what they have learnt or cached.
impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.slug == other.slug
            && self.id == other.id
            && self.base_url == other.base_url
            && self.surfaces == other.surfaces
            && self.models == other.models
            && self.format == other.format
            && self.catalog == other.catalog
            && self.created_ms == other.created_ms
            && self.calling == other.calling
            && self.dialect == other.dialect
    }
}
