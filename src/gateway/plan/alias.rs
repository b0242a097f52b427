//! A call's model names with aliases resolved: an alias stands for its target and then its
//! own fallbacks, in its place among the call's names (`model`, then each of `models`). A
//! target is never an alias (the registry refuses that), so one level is all there is.

use std::iter::once;

use super::super::error::GatewayError;
use super::super::table::Snapshot;
use super::body::MAX_FALLBACK_MODELS;
use crate::domain::rules::MAX_ALIAS_FALLBACKS;

// An alias lists as many fallbacks as a call may: the two bounds are one promise.
const _: () = assert!(MAX_ALIAS_FALLBACKS == MAX_FALLBACK_MODELS);

/// The names to resolve, in order; the alias's fallbacks only when the call may fall back.
pub(super) fn names<'a>(
    snapshot: &'a Snapshot,
    model: &'a str,
    fallbacks: &'a [String],
    fall_back: bool,
) -> impl Iterator<Item = &'a str> + 'a {
    once(model)
        .chain(fallbacks.iter().map(String::as_str))
        .flat_map(move |name| {
            let (first, rest): (&str, &[String]) = match snapshot.alias_for(name) {
                Some(alias) if fall_back => (&alias.target, &alias.fallbacks),
                Some(alias) => (&alias.target, &[]),
                None => (name, &[]),
            };
            once(first).chain(rest.iter().map(String::as_str))
        })
}

/// The refusal of a call whose `model` is an alias, saying so: its target is what failed.
pub(super) fn explained(snapshot: &Snapshot, model: &str, mut error: GatewayError) -> GatewayError {
    if let Some(alias) = snapshot.alias_for(model) {
        error.message = format!(
            "model `{}` is an alias of `{}`: {}",
            alias.alias, alias.target, error.message
        );
    }
    error
}
