//! Bifrost's key `weight`: among the keys that may serve a call, the one tried first is
//! chosen by smooth weighted round robin, so over any run of calls each key's share of
//! first tries follows its weight exactly and in an even interleaving, with no randomness for
//! a test (or an operator) to average away. Kept per provider in its runtime state, so a
//! change to its record keeps the rotation where it was.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ulid::Ulid;

use crate::domain::ProviderKey;

/// Each key's running credit; a key the map has not seen starts at 0.
#[derive(Debug, Default)]
pub struct Weighted(Mutex<HashMap<Ulid, i64>>);

/// Credits of keys no longer offered (deleted, or limited to other models) are dropped once
/// the map holds this many more than the keys in hand.
const SLACK: usize = 64;

impl Weighted {
    /// Moves the chosen key to the front of `keys`, the others keeping their order behind it:
    /// each key's credit grows by its shares, the largest (the first on a tie) is chosen, and
    /// it gives back the shares of all of them.
    pub fn put_first(&self, keys: &mut [Arc<ProviderKey>]) {
        if keys.len() < 2 {
            return;
        }
        let mut credit = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if credit.len() > keys.len() + SLACK {
            credit.retain(|id, _| keys.iter().any(|k| k.id == *id));
        }
        let mut total = 0_i64;
        let mut chosen = (0, i64::MIN);
        for (i, key) in keys.iter().enumerate() {
            let shares = key.routing.shares();
            total = total.saturating_add(shares);
            let c = credit.entry(key.id).or_insert(0);
            *c = c.saturating_add(shares);
            if *c > chosen.1 {
                chosen = (i, *c);
            }
        }
        if let Some(c) = credit.get_mut(&keys[chosen.0].id) {
            *c = c.saturating_sub(total);
        }
        keys[..=chosen.0].rotate_right(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key_routing::KeyRouting;
    use crate::domain::{NewProviderKey, ProviderSlug, SecretInput};
    use crate::secrets::MasterKey;

    fn key(weight: f64) -> Arc<ProviderKey> {
        let new = NewProviderKey {
            provider_id: ProviderSlug::parse_shape("openai").unwrap(),
            name: "k".into(),
            secret: SecretInput::Env("K".into()),
            description: None,
            metadata: None,
            routing: KeyRouting {
                weight: Some(weight),
                models: Vec::new(),
            },
        };
        Arc::new(
            new.into_key(&MasterKey::generate().unwrap(), 0, "t")
                .unwrap(),
        )
    }

    #[test]
    fn weights_three_and_one_interleave_as_a_a_b_a() {
        let (a, b) = (key(3.0), key(1.0));
        let weighted = Weighted::default();
        let mut firsts = String::new();
        for _ in 0..8 {
            let mut keys = vec![Arc::clone(&a), Arc::clone(&b)];
            weighted.put_first(&mut keys);
            firsts.push(if keys[0].id == a.id { 'a' } else { 'b' });
            assert_eq!(keys.len(), 2);
        }
        assert_eq!(firsts, "aabaaaba");
    }

    #[test]
    fn the_keys_behind_the_chosen_one_keep_their_order() {
        let (a, b, c) = (key(1.0), key(1.0), key(5.0));
        let mut keys = vec![Arc::clone(&a), Arc::clone(&b), Arc::clone(&c)];
        Weighted::default().put_first(&mut keys);
        let ids: Vec<_> = keys.iter().map(|k| k.id).collect();
        assert_eq!(ids, [c.id, a.id, b.id]);
    }
}
