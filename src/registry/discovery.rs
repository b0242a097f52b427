//! Writes of model discovery: a registered provider's new models added in one write, and a
//! catalog provider's discovered models kept.

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::catalog::is_reserved_provider_id;
use crate::domain::discovery::{CatalogModels, add_models, diff};
use crate::domain::{Precondition, Provider, now_ms};
use crate::gateway::table::Change;
use crate::store::Rejection;

impl Registry {
    /// Adds to provider `id` the models of `add` it does not declare yet, if `precondition`
    /// allows; one that declares none (and so takes any model) only when `confirmed`. The
    /// record is answered as it is after the write (unchanged when it declared them all).
    pub async fn add_discovered_models(
        &self,
        id: Ulid,
        add: Vec<String>,
        confirmed: bool,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<Provider, WriteError> {
        let by = by.to_owned();
        let change = Box::new(move |current: &Provider| {
            guard(precondition.as_ref(), &current.etag())?;
            add_models(current, &add, confirmed, now_ms(), &by).map_err(Rejection::Discovery)
        });
        self.commit(self.store.update(id, change), |p, table| {
            table.apply(Change::Provider(p))
        })
        .await
    }

    /// Keeps `models` as catalog provider `catalog_id`'s discovered models (replacing what
    /// it had), if `precondition` allows; published into the routing table, so its models
    /// are called by bare name, before this answers.
    pub async fn keep_catalog_models(
        &self,
        catalog_id: &str,
        models: Vec<String>,
        precondition: Option<Precondition>,
    ) -> Result<CatalogModels, WriteError> {
        if !is_reserved_provider_id(catalog_id) {
            return Err(WriteError::Rejected(Rejection::NotFound));
        }
        let change = Box::new(move |current: &CatalogModels| {
            guard(precondition.as_ref(), &current.etag())?;
            current
                .with(models.clone(), now_ms())
                .map_err(Rejection::Discovery)
        });
        self.commit(
            self.store.update_catalog_models(catalog_id, change),
            |c, table| table.apply(Change::CatalogModels(c)),
        )
        .await
    }

    /// The background check's refresh of a catalog provider's discovered models: `listed`
    /// (the ids its probe read, `gateway::probe::discover::Discovered::ids`) replaces them,
    /// less any id a model id may not be. A list past the 1,000-model limit is refused, and
    /// what was kept stays.
    pub async fn refresh_catalog_models(
        &self,
        catalog_id: &str,
        listed: &[String],
    ) -> Result<CatalogModels, WriteError> {
        let models = diff([], listed).added;
        self.keep_catalog_models(catalog_id, models, None).await
    }
}
