//! From a request's `model` string to the provider and upstream model id it names.
//!
//! `providerId:modelId` is split at the first `:` only when what comes before it is a
//! registered `providerId` or a catalog id, so `llama3.1:8b` stays a bare model name while
//! `ollama-box:llama3.1:8b` is model `llama3.1:8b` of provider `ollama-box`. A qualified name
//! must be a model the provider declares (exactly, or else ignoring case; the declared
//! spelling goes upstream) unless it declares none. A bare name goes to the providers that
//! declare it, in creation order: the first is tried first, the others are failover
//! candidates; after them, the catalog providers whose discovered models hold it, and last
//! those that serve the call only through a translation.

use std::sync::Arc;

use super::super::error::{Code, GatewayError};
use super::super::table::{Route, Scope, Snapshot};
use super::super::translate::Direction;
use crate::domain::surface::Surface;

/// Where a call goes.
#[derive(Debug)]
pub struct Target {
    pub route: Arc<Route>,
    /// The model id as the upstream knows it.
    pub model: String,
    /// How the call is translated for this provider, which serves the other format's
    /// counterpart of the call's surface only.
    pub translation: Option<Direction>,
    /// A count-tokens call for a provider without such a route: answered by an estimate.
    pub estimate: bool,
}

/// The first place a call for `model` goes: the first of its [`candidates`] (what the
/// routing tests ask).
#[cfg(test)]
pub fn resolve(snapshot: &Snapshot, model: &str, surface: Surface) -> Result<Target, GatewayError> {
    let mut all = candidates(snapshot, model, surface, None)?;
    Ok(all.swap_remove(0))
}

/// The most providers a bare name's call is offered to: a fleet of hundreds declaring one
/// model must not make every call lay out hundreds of candidates.
pub const MAX_PROVIDERS_PER_MODEL: usize = 16;

/// Every place a call for `model` may go, in the order to try them, never empty: a qualified
/// name's one provider; for a bare name every provider that declares it and serves the
/// surface, in creation order — those that declare it in exactly this spelling first, then
/// those that declare it in another case — then the catalog providers whose discovered
/// models hold it (likewise), then those that serve the surface only through a translation
/// (`translate`) or, for count-tokens, an estimate — up to [`MAX_PROVIDERS_PER_MODEL`]. With a
/// `scope`
/// (an access key's), only what it allows: a name it leaves nothing of is `model_not_allowed`,
/// and what a `model_not_found` message lists is what it allows.
pub fn candidates(
    snapshot: &Snapshot,
    model: &str,
    surface: Surface,
    scope: Option<&Scope>,
) -> Result<Vec<Target>, GatewayError> {
    if let Some((prefix, rest)) = model.split_once(':')
        && let Some(route) = snapshot.route(prefix)
    {
        return qualified(snapshot, route, rest, surface, scope).map(|t| vec![t]);
    }
    let (mut exact, mut folded, mut any, mut refused) = (Vec::new(), Vec::new(), None, false);
    let mut translated = Vec::new();
    let declaring = snapshot
        .declaring(model)
        .map(|route| (route, declared_spelling(route, model).unwrap_or(model)));
    // Catalog providers whose discovered models hold the name come after every registered
    // provider that declares it.
    let mut catalog = (Vec::new(), Vec::new());
    let discovered = snapshot.discovered_by(model).map(|found| (found, true));
    for ((route, spelling), from_catalog) in declaring.map(|d| (d, false)).chain(discovered) {
        if let Some(scope) = scope
            && !scope.allows(snapshot, route, spelling)
        {
            refused = true;
            continue;
        }
        any.get_or_insert(route);
        if !route.serves(surface) {
            if translation(route, surface).is_some() || estimated(route, surface) {
                translated.push((route, spelling));
            }
            continue;
        }
        let (exact, folded) = match from_catalog {
            false => (&mut exact, &mut folded),
            true => (&mut catalog.0, &mut catalog.1),
        };
        match spelling == model {
            true => exact.push((route, spelling)),
            false => folded.push((route, spelling)),
        }
        if !from_catalog && exact.len() == MAX_PROVIDERS_PER_MODEL {
            break;
        }
    }
    exact.append(&mut folded);
    exact.append(&mut catalog.0);
    exact.append(&mut catalog.1);
    exact.append(&mut translated);
    exact.truncate(MAX_PROVIDERS_PER_MODEL);
    match (exact.is_empty(), any) {
        (false, _) => Ok(exact
            .into_iter()
            .map(|(route, spelling)| Target {
                route: Arc::clone(route),
                model: spelling.to_owned(),
                translation: translation(route, surface),
                estimate: estimated(route, surface),
            })
            .collect()),
        (true, Some(declaring)) => Err(unsupported(declaring, surface)),
        (true, None) if refused => Err(not_allowed(model)),
        (true, None) => Err(not_found(format!(
            "no provider declares a model `{}`; address a model as providerId:modelId, or \
             declare it under the provider's models",
            shown(model)
        ))),
    }
}

fn qualified(
    snapshot: &Snapshot,
    route: &Arc<Route>,
    model: &str,
    surface: Surface,
    scope: Option<&Scope>,
) -> Result<Target, GatewayError> {
    if let Some(scope) = scope
        && !scope.allows_provider(route)
    {
        return Err(not_allowed(&format!("{}:{model}", route.slug)));
    }
    if model.is_empty() {
        return Err(GatewayError::new(
            Code::InvalidModel,
            format!("`{}:` names no model after the provider", route.slug),
        )
        .at("model"));
    }
    let upstream = match route.models.is_empty() {
        true => model,
        false => declared_spelling(route, model).ok_or_else(|| {
            let mut usable = route
                .models
                .iter()
                .filter(|m| scope.is_none_or(|s| s.allows(snapshot, route, m)));
            let known: Vec<&str> = usable.by_ref().take(10).map(String::as_str).collect();
            let more = usable.next().is_some();
            not_found(format!(
                "provider `{}` declares no model `{}`{}: {}{}",
                route.slug,
                shown(model),
                match scope {
                    None => "; it declares",
                    Some(_) => "; those this access key may use",
                },
                known.join(", "),
                if more { ", …" } else { "" }
            ))
        })?,
    };
    if let Some(scope) = scope
        && !scope.allows(snapshot, route, upstream)
    {
        return Err(not_allowed(&format!("{}:{model}", route.slug)));
    }
    let (translation, estimate) = (translation(route, surface), estimated(route, surface));
    if !route.serves(surface) && translation.is_none() && !estimate {
        return Err(unsupported(route, surface));
    }
    Ok(Target {
        route: Arc::clone(route),
        model: upstream.to_owned(),
        translation,
        estimate,
    })
}

/// Whether a count-tokens call is answered by an estimate at `route`: it serves no
/// count-tokens route, but messages or chat completions, so it takes the model's calls.
fn estimated(route: &Route, surface: Surface) -> bool {
    surface == Surface::CountTokens
        && !route.serves(surface)
        && (route.serves(Surface::Messages) || route.serves(Surface::ChatCompletions))
}

/// The translation a call on `surface` needs at `route`: none when it serves the surface.
fn translation(route: &Route, surface: Surface) -> Option<Direction> {
    Direction::needed(surface, |s| route.serves(s))
}

/// The provider's own spelling of `model`: exact first, then ignoring case.
fn declared_spelling<'r>(route: &'r Route, model: &str) -> Option<&'r str> {
    route
        .models
        .iter()
        .find(|m| *m == model)
        .or_else(|| route.models.iter().find(|m| m.eq_ignore_ascii_case(model)))
        .or_else(|| {
            let folded = model.to_lowercase();
            route.models.iter().find(|m| m.to_lowercase() == folded)
        })
        .map(String::as_str)
}

fn not_found(message: String) -> GatewayError {
    GatewayError::new(Code::ModelNotFound, message).at("model")
}

/// A model the caller's access key may not use.
pub fn not_allowed(model: &str) -> GatewayError {
    GatewayError::new(
        Code::ModelNotAllowed,
        format!(
            "this access key may not use model `{}`: its access key configuration does not \
             allow it (GET /v1/models lists what it may use)",
            shown(model)
        ),
    )
    .at("model")
}

fn unsupported(route: &Route, surface: Surface) -> GatewayError {
    GatewayError::new(
        Code::SurfaceNotSupported,
        format!(
            "provider `{}` does not serve {} `{}` (it declares no such entry in \
             supportedApiSurfaces)",
            route.slug,
            surface.format().name(),
            surface.name()
        ),
    )
    .at("model")
}

/// A client's model string quoted in a message, cut so it cannot bloat the answer.
fn shown(model: &str) -> String {
    match model.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &model[..at]),
        None => model.to_owned(),
    }
}
