//! Model prices: one tree of records by id (`by_id`). A model's one price is the registry's
//! to check, whose price writes take turns.

use ulid::Ulid;

use super::codec::get_in;
use super::{SledStore, by_id};
use crate::domain::{ModelPrice, Precondition};
use crate::store::{Page, PriceStore, StoreError, UpdateFn, Write};

impl PriceStore for SledStore {
    fn create_price(&self, price: ModelPrice) -> Write<ModelPrice> {
        self.write(move |e| by_id::insert(e, &e.prices, price.id, price))
    }

    fn get_price(&self, id: Ulid) -> Result<Option<ModelPrice>, StoreError> {
        get_in(&self.engine()?.prices, id)
    }

    fn list_prices(
        &self,
        before: Option<Ulid>,
        limit: usize,
    ) -> Result<Page<ModelPrice>, StoreError> {
        by_id::page(&self.engine()?.prices, before, limit)
    }

    fn all_prices(&self) -> Result<Vec<ModelPrice>, StoreError> {
        by_id::all(&self.engine()?.prices)
    }

    fn update_price(&self, id: Ulid, change: UpdateFn<ModelPrice>) -> Write<ModelPrice> {
        self.write(move |e| e.update_in(&e.prices, id, &change))
    }

    fn delete_price(&self, id: Ulid, precondition: Option<Precondition>) -> Write<ModelPrice> {
        self.write(move |e| by_id::remove(e, &e.prices, id, precondition, ModelPrice::etag))
    }
}
