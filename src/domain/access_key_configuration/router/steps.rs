//! A router rule's steps and their keys as sent, and their rules: a step is `type: user` with
//! one to [`MAX_STEP_KEYS`] keys, each an existing key of the rule's provider or a new one.

use serde::Deserialize;
use ulid::Ulid;
use zeroize::Zeroizing;

use super::{InlineKey, KnownProviders, RouterStep, StepKey, Strategy};
use crate::domain::fields::check_name;
use crate::domain::provider_key::parse_secret;
use crate::domain::rules::{MAX_ROUTER_STEPS, MAX_STEP_KEYS, STEP_KEY_WEIGHT};
use crate::domain::wire::Object;
use crate::domain::{NewProviderKey, ProviderSlug, Violations, next_id, parse_id};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepInput {
    #[serde(rename = "type")]
    kind: Option<String>,
    keys: Option<Vec<Object<StepKeyInput>>>,
    key_selection_strategy: Option<String>,
}

#[derive(Deserialize)]
pub struct StepKeyInput {
    id: Option<String>,
    name: Option<String>,
    /// Checked by `parse_secret`, never quoted in a message.
    value: Option<Zeroizing<String>>,
    weight: Option<u64>,
}

pub(super) fn parse_steps(
    v: &mut Violations,
    path: &str,
    steps: Option<Vec<Object<StepInput>>>,
    slug: Option<&str>,
    known: &dyn KnownProviders,
    inline: &mut Vec<InlineKey>,
) -> Vec<RouterStep> {
    let path = format!("{path}.steps");
    let steps = match steps {
        None => {
            v.add(path, "is required: a rule has at least one step");
            return Vec::new();
        }
        Some(s) if s.is_empty() || s.len() > MAX_ROUTER_STEPS => {
            let n = s.len();
            v.add(
                path,
                format!("must have between 1 and {MAX_ROUTER_STEPS} steps (got {n})"),
            );
            return Vec::new();
        }
        Some(s) => s,
    };
    let mut parsed = Vec::with_capacity(steps.len());
    for (j, Object(step)) in steps.into_iter().enumerate() {
        let path = format!("{path}[{j}]");
        match step.kind.as_deref() {
            Some("user") => {}
            Some("ngrok") => v.add(
                format!("{path}.type"),
                "`ngrok` steps (inference paid through ngrok) do not exist in a self-hosted \
                 gateway: use `user` with your own provider keys",
            ),
            Some(_) => v.add(format!("{path}.type"), "must be `user`"),
            None => v.add(format!("{path}.type"), "is required (`user`)"),
        }
        let strategy = step.key_selection_strategy.as_deref().and_then(|s| {
            let parsed = Strategy::parse(s);
            if parsed.is_none() {
                v.add(
                    format!("{path}.keySelectionStrategy"),
                    format!("must be one of {}", Strategy::NAMES.join(", ")),
                );
            }
            parsed
        });
        let keys = match (step.kind.as_deref(), step.keys) {
            // Refused above: asking it for keys too would only repeat the point.
            (Some("ngrok"), None) => Vec::new(),
            (_, keys) => parse_keys(v, &path, keys, strategy, slug, known, inline),
        };
        parsed.push(RouterStep { strategy, keys });
    }
    parsed
}

fn parse_keys(
    v: &mut Violations,
    path: &str,
    keys: Option<Vec<Object<StepKeyInput>>>,
    strategy: Option<Strategy>,
    slug: Option<&str>,
    known: &dyn KnownProviders,
    inline: &mut Vec<InlineKey>,
) -> Vec<StepKey> {
    let path = format!("{path}.keys");
    let keys = match keys {
        Some(k) if !k.is_empty() && k.len() <= MAX_STEP_KEYS => k,
        other => {
            let n = other.map_or(0, |k| k.len());
            v.add(
                path,
                format!("a `user` step needs between 1 and {MAX_STEP_KEYS} keys (got {n})"),
            );
            return Vec::new();
        }
    };
    let mut parsed: Vec<StepKey> = Vec::with_capacity(keys.len());
    for (k, Object(key)) in keys.into_iter().enumerate() {
        let path = format!("{path}[{k}]");
        let weight = key.weight.and_then(|w| {
            let (min, max) = (STEP_KEY_WEIGHT.min, STEP_KEY_WEIGHT.max);
            if strategy != Some(Strategy::Weighted) {
                v.add(
                    format!("{path}.weight"),
                    "is allowed only with keySelectionStrategy `weighted`",
                );
            } else if w < u64::from(min) || w > u64::from(max) {
                v.add(
                    format!("{path}.weight"),
                    format!("must be between {min} and {max} (got {w})"),
                );
            }
            u32::try_from(w).ok()
        });
        let id = match (key.id, key.name, key.value) {
            (Some(id), None, None) => existing_key(v, &path, &id, slug, known),
            (None, name, value) if name.is_some() || value.is_some() => {
                new_key(v, &path, name, value, slug, inline)
            }
            (None, ..) => {
                v.add(
                    path.clone(),
                    "needs `id` (an existing provider key) or `name` and `value` (a new one)",
                );
                None
            }
            (Some(_), ..) => {
                v.add(
                    format!("{path}.id"),
                    "give either `id` or `name` and `value`, not both",
                );
                None
            }
        };
        let Some(id) = id else { continue };
        if parsed.iter().any(|p| p.id == id) {
            v.add(format!("{path}.id"), "names a key this step already has");
            continue;
        }
        let weight = match strategy {
            Some(Strategy::Weighted) => Some(weight.unwrap_or(STEP_KEY_WEIGHT.min)),
            _ => None,
        };
        parsed.push(StepKey { id, weight });
    }
    parsed
}

fn existing_key(
    v: &mut Violations,
    path: &str,
    id: &str,
    slug: Option<&str>,
    known: &dyn KnownProviders,
) -> Option<Ulid> {
    let path = format!("{path}.id");
    let Some(id) = parse_id(id) else {
        v.add(path, "must be a provider key's id (a ULID)");
        return None;
    };
    match (known.key_owner(id), slug) {
        (None, _) => v.add(path, format!("no provider key has the id `{id}`")),
        (Some(owner), Some(slug)) if owner != slug => v.add(
            path,
            format!(
                "is a key of provider `{owner}`, not of `{slug}`: a rule uses its own \
                 provider's keys"
            ),
        ),
        _ => return Some(id),
    }
    None
}

fn new_key(
    v: &mut Violations,
    path: &str,
    name: Option<String>,
    value: Option<Zeroizing<String>>,
    slug: Option<&str>,
    inline: &mut Vec<InlineKey>,
) -> Option<Ulid> {
    let name = match name {
        None => v.check(
            format!("{path}.name"),
            Err("is required with `value`".into()),
        ),
        Some(name) => v.check(format!("{path}.name"), check_name(&name).map(|()| name)),
    };
    let secret = match value {
        None => v.check(
            format!("{path}.value"),
            Err("is required with `name`".into()),
        ),
        Some(value) => v.check(format!("{path}.value"), parse_secret(value)),
    };
    let (Some(name), Some(secret), Some(slug)) = (name, secret, slug) else {
        return None;
    };
    let provider_id = ProviderSlug::parse_shape(slug).ok()?;
    let id = next_id();
    inline.push((
        id,
        NewProviderKey {
            provider_id,
            name,
            secret,
            description: None,
            metadata: None,
            routing: Default::default(),
        },
    ));
    Some(id)
}
