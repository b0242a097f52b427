//! Model alias writes. Alias writes take the registry's turns from their check to their
//! publishing, so each is checked against a routing table that holds every alias written
//! before it: a unique name, no shadowing of a `providerId:` name, no alias pointing at an
//! alias. Each durable write is in the table (where calls resolve aliases) before it is
//! acknowledged.
//!
//! Deleting a provider leaves the aliases that name it: they route as any name then (to
//! `model_not_found` until a provider serves it again), and so they come back by themselves
//! when it is registered again.

use std::sync::Arc;

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::{
    AliasRefusal, CreateModelAlias, Input, InputError, KnownNames, ModelAlias, ModelAliasChanges,
    NewModelAlias, Precondition, UpdateModelAlias, check_alias, now_ms,
};
use crate::gateway::table::{Change, Snapshot};
use crate::store::Rejection;

/// What an alias is checked against: the table as it is inside the write's turn.
struct Held(Arc<Snapshot>);

impl KnownNames for Held {
    fn provider_id(&self, slug: &str) -> bool {
        self.0.route(slug).is_some()
    }

    fn alias_named(&self, folded: &str, except: Ulid) -> Option<String> {
        self.0
            .aliases()
            .named(folded)
            .filter(|a| a.id != except)
            .map(|a| a.alias.clone())
    }

    fn pointing_at(&self, folded: &str, except: Ulid) -> Option<String> {
        self.0
            .aliases()
            .pointing_at(folded)
            .find(|a| a.id != except)
            .map(|a| a.alias.clone())
    }
}

fn checked(alias: &ModelAlias, known: &Held) -> Result<(), Rejection> {
    check_alias(alias, known).map_err(|refusal| match refusal {
        AliasRefusal::Invalid(v) => Rejection::Invalid(v),
        AliasRefusal::Taken(other) => Rejection::AliasTaken(other),
    })
}

impl Registry {
    pub async fn create_model_alias(
        &self,
        input: Input<CreateModelAlias>,
        by: &str,
    ) -> Result<ModelAlias, WriteError> {
        let new = NewModelAlias::parse(input).map_err(InputError::Invalid)?;
        let alias = new.into_alias(now_ms(), by);
        let _turn = self.turn().await;
        checked(&alias, &Held(self.table.snapshot())).map_err(WriteError::Rejected)?;
        self.commit(self.store.create_model_alias(alias), |a, table| {
            table.apply(Change::Alias(a))
        })
        .await
    }

    pub async fn update_model_alias(
        &self,
        id: Ulid,
        input: Input<UpdateModelAlias>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<ModelAlias, WriteError> {
        let changes = ModelAliasChanges::parse(input).map_err(InputError::Invalid)?;
        let by = by.to_owned();
        let _turn = self.turn().await;
        let known = Held(self.table.snapshot());
        let change = Box::new(move |current: &ModelAlias| {
            guard(precondition.as_ref(), &current.etag())?;
            let next = changes.apply(current, now_ms(), &by);
            if let Some(next) = &next {
                checked(next, &known)?;
            }
            Ok(next)
        });
        self.commit(self.store.update_model_alias(id, change), |a, table| {
            table.apply(Change::Alias(a))
        })
        .await
    }

    pub async fn delete_model_alias(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
    ) -> Result<(), WriteError> {
        let _turn = self.turn().await;
        self.commit(
            self.store.delete_model_alias(id, precondition),
            |_, table| table.apply(Change::AliasGone(id)),
        )
        .await
        .map(drop)
    }
}
