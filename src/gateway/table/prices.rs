//! Model prices as the meter sees them: by case-folded model string, one hash lookup or two
//! per attempt (none while no price is stored), written through `/prices`.

use std::sync::Arc;

use imbl::HashMap;
use ulid::Ulid;

use super::Snapshot;
use crate::domain::usage::Price;
use crate::domain::{ModelPrice, fold_model};
use crate::store::{Store, StoreError};

#[derive(Clone, Default)]
pub struct Prices {
    /// By case-folded model string.
    by_model: HashMap<Box<str>, Arc<ModelPrice>>,
    /// Each price's case-folded model string, to find it again when it changes.
    model_of: HashMap<Ulid, Box<str>>,
}

impl Prices {
    /// The price stored for `folded` (already case-folded).
    pub fn named(&self, folded: &str) -> Option<&Arc<ModelPrice>> {
        self.by_model.get(folded)
    }

    fn set(&mut self, price: &ModelPrice) {
        self.remove(price.id);
        let folded: Box<str> = fold_model(&price.model).into();
        self.model_of.insert(price.id, folded.clone());
        self.by_model.insert(folded, Arc::new(price.clone()));
    }

    fn remove(&mut self, id: Ulid) {
        if let Some(folded) = self.model_of.remove(&id)
            && self.by_model.get(&folded).is_some_and(|p| p.id == id)
        {
            self.by_model.remove(&folded);
        }
    }
}

impl Snapshot {
    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// The stored price of `model` at `provider`: the qualified one, else the bare one.
    pub fn price_of(&self, provider: &str, model: &str) -> Option<Price> {
        if self.prices.by_model.is_empty() {
            return None;
        }
        let model = fold_model(model);
        let qualified = format!("{}:{model}", fold_model(provider));
        self.prices
            .by_model
            .get(qualified.as_str())
            .or_else(|| self.prices.by_model.get(model.as_str()))
            .map(|p| p.price())
    }

    pub(super) fn load_prices(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        for price in store.all_prices()? {
            self.set_price(&price);
        }
        Ok(())
    }

    pub(super) fn set_price(&mut self, price: &ModelPrice) {
        self.versions.insert(price.id, price.version);
        self.prices.set(price);
    }

    pub(super) fn remove_price(&mut self, id: Ulid) {
        self.prices.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CreatePrice;

    fn price(model: &str, input: f64) -> ModelPrice {
        let body: CreatePrice =
            serde_json::from_value(serde_json::json!({"model": model, "input": input})).unwrap();
        CreatePrice::parse(body, 1, "admin").unwrap()
    }

    #[test]
    fn the_qualified_price_wins_and_a_renamed_one_moves() {
        let mut snapshot = Snapshot::default();
        assert!(snapshot.price_of("box", "m").is_none());
        let bare = price("M", 1.0);
        let mut qualified = price("Box:m", 2.0);
        snapshot.set_price(&bare);
        snapshot.set_price(&qualified);
        assert_eq!(snapshot.price_of("box", "m").unwrap().input, 2_000_000_000);
        assert_eq!(
            snapshot.price_of("other", "m").unwrap().input,
            1_000_000_000
        );
        qualified.model = "box:n".into();
        qualified.version += 1;
        snapshot.set_price(&qualified);
        assert_eq!(snapshot.price_of("box", "m").unwrap().input, 1_000_000_000);
        assert!(snapshot.price_of("box", "N").is_some());
        snapshot.remove_price(qualified.id);
        snapshot.remove_price(bare.id);
        assert!(snapshot.prices.by_model.is_empty() && snapshot.prices.model_of.is_empty());
    }
}
