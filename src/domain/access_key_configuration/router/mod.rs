//! An access key configuration's `router` (ngrok's `Router`): per provider or per model, the
//! ordered steps of provider keys the calls under the configuration use. A step key is kept as
//! the id of a provider key; one written inline (`{name, value}`) becomes a new provider key
//! of the rule's provider, created in the same store transaction as the configuration.

mod steps;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::{KnownProviders, model_entry_shape, provider_entry_shape};
use crate::domain::rules::{MAX_ROUTER_RULES, MAX_TEXT_CHARS};
use crate::domain::wire::Object;
use crate::domain::{NewProviderKey, Violations};

/// How a step picks among its keys: ngrok's `ordered`, and modelgate's two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    Ordered,
    RoundRobin,
    Weighted,
}

impl Strategy {
    pub const NAMES: [&str; 3] = ["ordered", "round-robin", "weighted"];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Ordered => "ordered",
            Strategy::RoundRobin => "round-robin",
            Strategy::Weighted => "weighted",
        }
    }

    fn parse(s: &str) -> Option<Strategy> {
        [Strategy::Ordered, Strategy::RoundRobin, Strategy::Weighted]
            .into_iter()
            .find(|strategy| strategy.name() == s)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Router {
    pub rules: Vec<RouterRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterRule {
    /// As written: a `providerId` (or catalog id) or a provider's `id`.
    pub provider: Option<String>,
    /// As written: `providerId:modelId`. A rule with a model is a model rule.
    pub model: Option<String>,
    /// The `providerId` the rule is for, worked out when written (a `providerId` never
    /// changes): its keys are this provider's.
    pub slug: String,
    pub steps: Vec<RouterStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterStep {
    /// As written; left out means `ordered`.
    pub strategy: Option<Strategy>,
    pub keys: Vec<StepKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepKey {
    pub id: Ulid,
    /// Only under `weighted`.
    pub weight: Option<u32>,
}

impl Router {
    /// Every provider key the rules name, each once.
    pub fn key_ids(&self) -> HashSet<Ulid> {
        self.rules
            .iter()
            .flat_map(|r| &r.steps)
            .flat_map(|s| &s.keys)
            .map(|k| k.id)
            .collect()
    }

    /// The router without the keys `gone`: a step left with no keys goes, and a rule left
    /// with no steps goes (its provider's own keys apply again). `None` when it names none.
    pub fn without(&self, gone: &HashSet<Ulid>) -> Option<Router> {
        if self.key_ids().is_disjoint(gone) {
            return None;
        }
        let mut next = self.clone();
        for rule in &mut next.rules {
            for step in &mut rule.steps {
                step.keys.retain(|k| !gone.contains(&k.id));
            }
            rule.steps.retain(|s| !s.keys.is_empty());
        }
        next.rules.retain(|r| !r.steps.is_empty());
        Some(next)
    }
}

/// `router` as sent.
#[derive(Default, Deserialize)]
pub struct RouterInput {
    pub rules: Option<Vec<Object<RuleInput>>>,
}

#[derive(Deserialize)]
pub struct RuleInput {
    provider: Option<String>,
    model: Option<String>,
    steps: Option<Vec<Object<steps::StepInput>>>,
}

/// A provider key a step creates, under the id the step names it by.
pub type InlineKey = (Ulid, NewProviderKey);

/// `router` checked against its rules and against the providers and keys `known` holds;
/// every violation goes to `v`.
pub(super) fn parse_router(
    v: &mut Violations,
    input: RouterInput,
    known: &dyn KnownProviders,
) -> (Router, Vec<InlineKey>) {
    let mut router = Router::default();
    let mut inline = Vec::new();
    let Some(rules) = input.rules else {
        return (router, inline);
    };
    if rules.len() > MAX_ROUTER_RULES {
        v.add(
            "router.rules",
            format!(
                "must have at most {MAX_ROUTER_RULES} rules (got {})",
                rules.len()
            ),
        );
        return (router, inline);
    }
    let mut by_provider: HashMap<String, usize> = HashMap::new();
    let mut by_model: HashMap<(String, String), usize> = HashMap::new();
    for (i, Object(rule)) in rules.into_iter().enumerate() {
        let path = format!("router.rules[{i}]");
        let target = parse_target(v, &path, &rule, known);
        if let Some((slug, model)) = &target {
            let (field, first) = match model {
                None => ("provider", by_provider.entry(slug.clone()).or_insert(i)),
                Some(m) => (
                    "model",
                    by_model.entry((slug.clone(), m.clone())).or_insert(i),
                ),
            };
            if *first != i {
                v.add(
                    format!("{path}.{field}"),
                    format!(
                        "at most one rule per {field}: router.rules[{first}] is already for \
                         the same one"
                    ),
                );
            }
        }
        let slug = target.map(|(slug, _)| slug);
        let steps = steps::parse_steps(v, &path, rule.steps, slug.as_deref(), known, &mut inline);
        router.rules.push(RouterRule {
            provider: rule.provider,
            model: rule.model,
            slug: slug.unwrap_or_default(),
            steps,
        });
    }
    (router, inline)
}

/// The `providerId` a rule is for, and its case-folded model id when it is a model rule.
fn parse_target(
    v: &mut Violations,
    path: &str,
    rule: &RuleInput,
    known: &dyn KnownProviders,
) -> Option<(String, Option<String>)> {
    if rule.provider.is_none() && rule.model.is_none() {
        v.add(
            format!("{path}.provider"),
            "a rule needs `provider` (a providerId or a provider's id) or `model` \
             (`providerId:modelId`)",
        );
        return None;
    }
    let provider = rule.provider.as_deref().and_then(|entry| {
        let slug = provider_entry_shape(entry)
            .then(|| known.slug_of(entry))
            .flatten();
        if slug.is_none() {
            v.add(
                format!("{path}.provider"),
                format!(
                    "names no known provider: `{entry}` is neither a registered providerId, \
                     a provider's id nor a built-in catalog id"
                ),
            );
        }
        slug
    });
    let model = rule.model.as_deref().and_then(|entry| {
        let parsed = entry
            .split_once(':')
            .filter(|(prefix, model)| {
                !model.is_empty()
                    && entry.chars().count() <= MAX_TEXT_CHARS
                    && model_entry_shape(entry)
                    && known.provider_id(prefix)
            })
            .map(|(prefix, model)| (prefix.to_owned(), model.to_lowercase()));
        if parsed.is_none() {
            v.add(
                format!("{path}.model"),
                format!(
                    "must be `providerId:modelId`, at most {MAX_TEXT_CHARS} characters, with a \
                     registered providerId (or a built-in catalog id) and a model id without \
                     white space"
                ),
            );
        }
        parsed
    });
    match (provider, model, rule.model.is_some()) {
        (Some(p), Some((slug, _)), _) if p != slug => {
            v.add(
                format!("{path}.provider"),
                format!("must name the provider of `model` (`{slug}`), or be left out"),
            );
            None
        }
        (_, Some((slug, model)), _) => Some((slug, Some(model))),
        (Some(p), None, false) => Some((p, None)),
        _ => None,
    }
}
