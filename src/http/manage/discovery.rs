//! `POST /providers/{id}/discover-models`: the models a provider lists (read by its probe,
//! `gateway::probe::discover`) set against those it declares, and with `?apply=true` the new
//! ones added in one write. `{id}` is a registered provider's id, or a catalog id: a catalog
//! provider declares nothing, so what is kept for it is its discovered list, by which calls
//! reach its models by bare name. Routed by `providers`, which owns the path.

use std::collections::HashSet;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ulid::Ulid;

use super::probes::check_details;
use crate::domain::catalog::catalog_provider;
use crate::domain::discovery::{Diff, DiscoverModels, chosen, diff};
use crate::domain::{Input, InputError, Precondition, parse_id};
use crate::gateway::probe::MAX_IDS;
use crate::gateway::probe::discover::Discovered;
use crate::http::auth::Caller;
use crate::http::body::{Empty, read_json};
use crate::http::conditional::if_match;
use crate::http::error::ApiError;
use crate::http::query;
use crate::http::{AppState, docs, not_found, write_failed};

const NOUN: &str = "provider";

#[utoipa::path(
    post, path = "/providers/{id}/discover-models", tag = "providers",
    operation_id = "discoverProviderModels",
    summary = "Discover a provider's models from its model list",
    description = "Reads the provider's model list as `POST /providers/{id}/test` does (and \
        keeps the probe as its last check), and sets it against the models the provider \
        declares: `added` (listed, not declared; ids a model id may not be are left out), \
        `missing` (declared, not listed), `unchanged`. With `?apply=true` the `added` ones \
        (or those of a `modelIds` body) are declared in one write: declared models keep their \
        ids, missing ones stay declared; the answer's `added` is what was added, and its \
        `ETag` the provider's new one. A provider that declares no models takes any, so \
        applying needs `?confirm=true`. `{id}` may be a catalog id (`openai`, with a provider \
        key filed): its discovered models are kept apart (the catalog provider still takes \
        any `openai:…` name), `apply` replaces them with those listed (the `missing` ones \
        go), and calls then reach them by bare name, after registered providers declaring \
        the same name; `GET /v1/models` lists them. `If-Match` is checked before the probe \
        and again in the write, as PATCH checks it.",
    params(docs::Discover, docs::IfMatch),
    request_body(content = DiscoverModels, content_type = "application/json",
        description = "Optional, with `?apply=true` only: the models of `added` to apply."),
    responses(
        (status = 200, description = "What discovery found; with `?apply=true`, durable and \
            routed before this answer.", body = Diff,
            headers(("ETag" = String, description = "Entity tag of the provider (or of a \
                catalog provider's discovered models) as it now is"))),
        (status = 404, response = docs::NotFound),
        (status = 409, response = docs::DiscoveryConflict),
        (status = 412, response = docs::PreconditionFailed),
        (status = 422, response = docs::TooManyModels),
        (status = 502, response = docs::DiscoveryFailed),
        docs::BodyErrors,
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn discover_models(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (apply, confirm) = flags(&req)?;
    let precondition = if_match(req.headers())?;
    let input: Input<DiscoverModels> = read_json(&req, body, Empty::NoChange).await?;
    let (body, violations) = input.checked();
    if !violations.is_empty() {
        return Err(InputError::Invalid(violations).into());
    }
    if body.model_ids.is_some() && !apply {
        return Err(ApiError::validation(
            "modelIds",
            "chooses what to apply: send it with ?apply=true",
        ));
    }
    let ask = Ask {
        apply,
        confirm,
        precondition,
        model_ids: body.model_ids,
    };
    let raw = req.match_info().get("id").unwrap_or_default();
    match (parse_id(raw), catalog_provider(raw)) {
        (Some(id), _) => registered(&req, &state, &caller, id, ask).await,
        (None, Some(entry)) => catalog(&req, &state, entry.id, ask).await,
        (None, None) => Err(not_found(&req, NOUN)),
    }
}

/// What the request asks of discovery.
struct Ask {
    apply: bool,
    confirm: bool,
    precondition: Option<Precondition>,
    model_ids: Option<Vec<String>>,
}

/// `?apply=` and `?confirm=`: each `true` or `false` (the default).
fn flags(req: &HttpRequest) -> Result<(bool, bool), ApiError> {
    let found = query::params(req, &["apply", "confirm"])?;
    let mut v = crate::domain::Violations::default();
    let mut flag = |name: &'static str| match found.get(name).map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            v.add(name, "must be `true` or `false`");
            false
        }
    };
    let (apply, confirm) = (flag("apply"), flag("confirm"));
    match v.is_empty() {
        true => Ok((apply, confirm)),
        false => Err(ApiError::InvalidQuery(v)),
    }
}

fn stale(precondition: Option<&Precondition>, etag: &str) -> Result<(), ApiError> {
    match precondition {
        Some(p) if !p.allows(etag) => Err(ApiError::PreconditionFailed),
        _ => Ok(()),
    }
}

/// The list the probe read, or why there is none to use.
fn listed(found: Discovered) -> Result<Vec<String>, ApiError> {
    let mut details = check_details(&found.check);
    if !found.check.ok {
        return Err(ApiError::DiscoveryFailed(details));
    }
    if found.cut {
        details.insert(
            "error".to_owned(),
            format!("the list holds more than {MAX_IDS} model ids; none were taken"),
        );
        return Err(ApiError::DiscoveryFailed(details));
    }
    Ok(found.ids)
}

fn answer(etag: String, diff: &Diff) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .json(diff)
}

async fn registered(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    id: Ulid,
    ask: Ask,
) -> Result<HttpResponse, ApiError> {
    let provider = state
        .registry
        .store()
        .get(id)?
        .ok_or_else(|| not_found(req, NOUN))?;
    stale(ask.precondition.as_ref(), &provider.etag())?;
    let found = state
        .gateway
        .discover(provider.provider_id.as_str())
        .await
        .ok_or_else(|| not_found(req, NOUN))?;
    let ids = listed(found)?;
    let found = diff(provider.models.iter().map(|m| m.model_id.as_str()), &ids);
    if !ask.apply {
        return Ok(answer(provider.etag(), &found));
    }
    let add = chosen(&found, ask.model_ids)?;
    let written = state
        .registry
        .add_discovered_models(id, add.clone(), ask.confirm, ask.precondition, &caller.id)
        .await
        .map_err(|e| write_failed(req, NOUN, e))?;
    Ok(answer(
        written.etag(),
        &Diff {
            added: add,
            ..found
        },
    ))
}

/// A catalog provider's discovery: against its kept list; applied, the list becomes what is
/// listed (`unchanged` and the chosen of `added`), so the `missing` go.
async fn catalog(
    req: &HttpRequest,
    state: &AppState,
    catalog_id: &str,
    ask: Ask,
) -> Result<HttpResponse, ApiError> {
    let kept = state.registry.store().catalog_models(catalog_id)?;
    stale(ask.precondition.as_ref(), &kept.etag())?;
    if state.gateway.snapshot().keys(catalog_id).is_empty() {
        return Err(ApiError::CatalogKeyRequired(catalog_id.to_owned()));
    }
    let found = state
        .gateway
        .discover(catalog_id)
        .await
        .ok_or_else(|| not_found(req, NOUN))?;
    let ids = listed(found)?;
    let found = diff(kept.models.iter().map(String::as_str), &ids);
    if !ask.apply {
        return Ok(answer(kept.etag(), &found));
    }
    let add = chosen(&found, ask.model_ids)?;
    let chosen: HashSet<&str> = found
        .unchanged
        .iter()
        .chain(&add)
        .map(String::as_str)
        .collect();
    let models = ids
        .iter()
        .filter(|m| chosen.contains(m.as_str()))
        .cloned()
        .collect();
    let written = state
        .registry
        .keep_catalog_models(catalog_id, models, ask.precondition)
        .await
        .map_err(|e| write_failed(req, NOUN, e))?;
    Ok(answer(
        written.etag(),
        &Diff {
            added: add,
            ..found
        },
    ))
}
