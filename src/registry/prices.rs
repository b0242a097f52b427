//! Model price writes. They take the registry's turns from their check to their publishing,
//! so each is checked against a routing table that holds every price written before it: one
//! price per model string, in any case. Each durable write is in the table (where the meter
//! reads prices) before it is acknowledged.

use ulid::Ulid;

use super::{Registry, WriteError, guard};
use crate::domain::{
    CreatePrice, Input, InputError, ModelPrice, Precondition, PriceChanges, UpdatePrice,
    fold_model, now_ms,
};
use crate::gateway::table::{Change, Snapshot};
use crate::store::Rejection;

/// Refuses `price` when another price is for the same model string.
fn unique(price: &ModelPrice, table: &Snapshot) -> Result<(), Rejection> {
    match table.prices().named(&fold_model(&price.model)) {
        Some(other) if other.id != price.id => Err(Rejection::PriceTaken(other.model.clone())),
        _ => Ok(()),
    }
}

impl Registry {
    pub async fn create_price(
        &self,
        input: Input<CreatePrice>,
        by: &str,
    ) -> Result<ModelPrice, WriteError> {
        let price = CreatePrice::parse(input, now_ms(), by).map_err(InputError::Invalid)?;
        let _turn = self.turn().await;
        unique(&price, &self.table.snapshot()).map_err(WriteError::Rejected)?;
        self.commit(self.store.create_price(price), |p, table| {
            table.apply(Change::Price(p))
        })
        .await
    }

    pub async fn update_price(
        &self,
        id: Ulid,
        input: Input<UpdatePrice>,
        precondition: Option<Precondition>,
        by: &str,
    ) -> Result<ModelPrice, WriteError> {
        let changes = PriceChanges::parse(input).map_err(InputError::Invalid)?;
        let by = by.to_owned();
        let _turn = self.turn().await;
        let table = self.table.snapshot();
        let change = Box::new(move |current: &ModelPrice| {
            guard(precondition.as_ref(), &current.etag())?;
            let next = changes.apply(current, now_ms(), &by);
            if let Some(next) = &next {
                unique(next, &table)?;
            }
            Ok(next)
        });
        self.commit(self.store.update_price(id, change), |p, table| {
            table.apply(Change::Price(p))
        })
        .await
    }

    pub async fn delete_price(
        &self,
        id: Ulid,
        precondition: Option<Precondition>,
    ) -> Result<(), WriteError> {
        let _turn = self.turn().await;
        self.commit(self.store.delete_price(id, precondition), |_, table| {
            table.apply(Change::PriceGone(id))
        })
        .await
        .map(drop)
    }
}
