//! Writes of model discovery: a registered provider's new models added in one write, and a
//! catalog provider's discovered models kept.

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::discovery::add_models;
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
}
