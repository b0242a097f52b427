//! An access key configuration's `router` as answers show it (ngrok's `Router`): each step key
//! expanded to the provider key's `{id, name, keyRedacted}`, never its value. modelgate's
//! strategies show their name, and `weighted` each key's `weight`; a router using neither is
//! exactly ngrok's shape.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Router, RouterRule, RouterStep, Strategy};
use crate::store::{Store, StoreError};

/// ngrok's `RouterStepKey`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RouterStepKey)]
pub(crate) struct StepKeyView {
    id: String,
    name: String,
    key_redacted: String,
    /// modelgate's: under `weighted` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
}

/// ngrok's `RouterStep`; modelgate's steps are all `user`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RouterStep)]
pub(crate) struct StepView {
    #[serde(rename = "type")]
    kind: &'static str,
    keys: Vec<StepKeyView>,
    /// As written: `ordered`, or modelgate's `round-robin` and `weighted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_selection_strategy: Option<&'static str>,
}

/// ngrok's `RouterRule`.
#[derive(Serialize, ToSchema)]
#[schema(as = RouterRule)]
pub(crate) struct RuleView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    steps: Vec<StepView>,
}

/// ngrok's `Router`.
#[derive(Serialize, ToSchema)]
#[schema(as = Router)]
pub(crate) struct RouterView<'a> {
    rules: Vec<RuleView<'a>>,
}

impl<'a> RouterView<'a> {
    /// The router with each step key read from `store`: a key deleted as this is read (its
    /// cascade takes it out of the router in the same transaction) is left out.
    pub(crate) fn new(router: &'a Router, store: &dyn Store) -> Result<RouterView<'a>, StoreError> {
        let rules = router
            .rules
            .iter()
            .map(|rule| rule_view(rule, store))
            .collect::<Result<_, _>>()?;
        Ok(RouterView { rules })
    }
}

fn rule_view<'a>(rule: &'a RouterRule, store: &dyn Store) -> Result<RuleView<'a>, StoreError> {
    let steps = rule
        .steps
        .iter()
        .map(|step| step_view(step, store))
        .collect::<Result<_, _>>()?;
    Ok(RuleView {
        provider: rule.provider.as_deref(),
        model: rule.model.as_deref(),
        steps,
    })
}

fn step_view(step: &RouterStep, store: &dyn Store) -> Result<StepView, StoreError> {
    let mut keys = Vec::with_capacity(step.keys.len());
    for key in &step.keys {
        if let Some(record) = store.get_key(key.id)? {
            keys.push(StepKeyView {
                id: record.id.to_string(),
                name: record.name,
                key_redacted: record.key_redacted,
                weight: key
                    .weight
                    .filter(|_| step.strategy == Some(Strategy::Weighted)),
            });
        }
    }
    Ok(StepView {
        kind: "user",
        keys,
        key_selection_strategy: step.strategy.map(Strategy::name),
    })
}
