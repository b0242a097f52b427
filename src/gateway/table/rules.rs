//! An access key configuration's `router` as calls use it: worked out once, when the
//! configuration is written, into hash maps by `providerId` (and by case-folded model id), so
//! a call finds its rule with one or two lookups however many rules there are. A step's keys
//! are kept as ids and found in the snapshot per call (a key rotated since is used as it is
//! now; one deleted since is skipped), and only `round-robin` and `weighted` keep any state: a
//! counter each step moves on per call.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ulid::Ulid;

use super::{Route, Snapshot};
use crate::domain::{ProviderKey, Router, Strategy};

/// Coprime with every total weight a step can have (at most 16 keys of weight 1000): stepping
/// a counter by it modulo the total visits each position once per `total` calls, spread out.
const SPREAD: u64 = 65_537;

#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Provider rules by `providerId`: an index into `rules`.
    by_provider: HashMap<Box<str>, usize>,
    /// Model rules by `providerId`, then by case-folded model id.
    by_model: HashMap<Box<str>, HashMap<Box<str>, usize>>,
}

#[derive(Debug)]
struct Rule {
    steps: Vec<Step>,
}

#[derive(Debug)]
struct Step {
    strategy: Strategy,
    keys: Vec<Ulid>,
    /// Under `weighted`: each key's cumulative weight, and their sum.
    cumulative: Vec<u64>,
    total: u64,
    /// Calls this step has served, for `round-robin` and `weighted`.
    turn: AtomicUsize,
}

impl Step {
    /// This call's order of the step's keys, as indexes: the one the strategy picks first,
    /// then the others (in their turn for `round-robin`, as written for `weighted`).
    fn order(&self) -> impl Iterator<Item = usize> + use<> {
        let n = self.keys.len();
        let first = match self.strategy {
            Strategy::Ordered => 0,
            Strategy::RoundRobin => self.turn.fetch_add(1, Ordering::Relaxed) % n,
            Strategy::Weighted => {
                let turn = self.turn.fetch_add(1, Ordering::Relaxed) as u64 % self.total;
                let at = turn * (SPREAD % self.total) % self.total;
                self.cumulative.partition_point(|c| *c <= at)
            }
        };
        let weighted = self.strategy == Strategy::Weighted;
        (0..n).map(move |i| match (weighted, i) {
            (false, i) => (first + i) % n,
            (true, 0) => first,
            (true, i) if i <= first => i - 1,
            (true, i) => i,
        })
    }
}

/// `model` case-folded as routing folds it; borrowed when it already is (the usual case).
fn folded(model: &str) -> Cow<'_, str> {
    if model
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(model)
    } else {
        Cow::Owned(model.to_lowercase())
    }
}

impl Rules {
    /// What `router` says for calls; `None` when it has no rules (nothing to look up).
    pub fn of(router: Option<&Router>) -> Option<Rules> {
        let router = router.filter(|r| !r.rules.is_empty())?;
        let mut rules = Rules::default();
        for rule in &router.rules {
            let at = rules.rules.len();
            let slug: Box<str> = rule.slug.as_str().into();
            match rule.model.as_deref().and_then(|m| m.split_once(':')) {
                Some((_, model)) => {
                    rules
                        .by_model
                        .entry(slug)
                        .or_default()
                        .insert(model.to_lowercase().into(), at);
                }
                None => {
                    rules.by_provider.insert(slug, at);
                }
            }
            let steps = rule.steps.iter().map(|step| {
                let strategy = step.strategy.unwrap_or(Strategy::Ordered);
                let mut total = 0;
                let cumulative = step
                    .keys
                    .iter()
                    .map(|k| {
                        total += u64::from(k.weight.unwrap_or(1).max(1));
                        total
                    })
                    .collect();
                Step {
                    strategy,
                    keys: step.keys.iter().map(|k| k.id).collect(),
                    cumulative,
                    total,
                    turn: AtomicUsize::new(0),
                }
            });
            rules.rules.push(Rule {
                steps: steps.collect(),
            });
        }
        Some(rules)
    }

    /// The index of the rule for `model` at `route`: its model rule, else its provider rule.
    fn rule(&self, route: &Route, model: &str) -> Option<usize> {
        let slug = route.slug.as_str();
        let by_model = self
            .by_model
            .get(slug)
            .and_then(|models| models.get(folded(model).as_ref()));
        by_model.or_else(|| self.by_provider.get(slug)).copied()
    }

    /// The keys a call of `model` at `route` walks, in order, when a rule is for it and any
    /// of its keys still exists; `None` leaves the provider's own keys. A rule that serves
    /// several of one call's targets (fallback models at one provider) gives each the order
    /// `taken` kept from the first, so its counters move once per call.
    pub fn keys(
        &self,
        snapshot: &Snapshot,
        route: &Route,
        model: &str,
        taken: &mut Taken,
    ) -> Option<Vec<Arc<ProviderKey>>> {
        let at = self.rule(route, model)?;
        if let Some((_, keys)) = taken.0.iter().find(|(rule, _)| *rule == at) {
            return (!keys.is_empty()).then(|| keys.clone());
        }
        let rule = &self.rules[at];
        let held = snapshot.keys.get(route.slug.as_str())?;
        let mut keys = Vec::with_capacity(rule.steps.iter().map(|s| s.keys.len()).sum());
        for step in &rule.steps {
            keys.extend(
                step.order()
                    .filter_map(|i| held.get(&step.keys[i]).cloned()),
            );
        }
        taken.0.push((at, keys.clone()));
        (!keys.is_empty()).then_some(keys)
    }
}

/// The key orders one call's plan has taken from its rules, by rule.
#[derive(Default)]
pub struct Taken(Vec<(usize, Vec<Arc<ProviderKey>>)>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RouterRule, RouterStep, StepKey};

    fn step(strategy: Strategy, keys: &[(u128, Option<u32>)]) -> RouterStep {
        RouterStep {
            strategy: Some(strategy),
            keys: keys
                .iter()
                .map(|(id, weight)| StepKey {
                    id: Ulid(*id),
                    weight: *weight,
                })
                .collect(),
        }
    }

    /// The first key of each of `calls` calls, and the whole order of the last.
    fn picks(rules: &Rules, calls: usize) -> (Vec<u128>, Vec<u128>) {
        let step = &rules.rules[0].steps[0];
        let mut last = Vec::new();
        let firsts = (0..calls)
            .map(|_| {
                last = step.order().map(|i| step.keys[i].0).collect();
                last[0]
            })
            .collect();
        (firsts, last)
    }

    fn rules_of(steps: Vec<RouterStep>) -> Rules {
        Rules::of(Some(&Router {
            rules: vec![RouterRule {
                provider: Some("up".into()),
                model: None,
                slug: "up".into(),
                steps,
            }],
        }))
        .unwrap()
    }

    #[test]
    fn weights_share_calls_exactly_over_a_period() {
        let rules = rules_of(vec![step(
            Strategy::Weighted,
            &[(1, Some(1)), (2, Some(3)), (3, Some(6))],
        )]);
        let (all, last) = picks(&rules, 100);
        let count = |id| all.iter().filter(|k| **k == id).count();
        assert_eq!((count(1), count(2), count(3)), (10, 30, 60));
        let mut sorted = last.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [1, 2, 3], "each key once: {last:?}");
        // Spread out, not in runs of one key.
        assert!(all[..10].iter().any(|k| *k != 3), "{all:?}");
    }

    #[test]
    fn round_robin_moves_the_first_key_on_each_call() {
        let rules = rules_of(vec![step(Strategy::RoundRobin, &[(1, None), (2, None)])]);
        let (all, last) = picks(&rules, 4);
        assert_eq!(all, [1, 2, 1, 2]);
        assert_eq!(last, [2, 1]);
    }

    #[test]
    fn a_router_without_rules_needs_no_lookup() {
        assert!(Rules::of(Some(&Router::default())).is_none());
        assert!(Rules::of(None).is_none());
    }
}
