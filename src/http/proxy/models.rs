//! `GET /v1/models` and `GET /v1/models/{model}`: the `providerId:modelId`s the caller's format's
//! routes accept, in OpenAI's shape, or in Anthropic's when the request carries
//! `anthropic-version` (so both SDKs' `models.list()` and `models.retrieve()` work against the
//! same URLs). Anthropic's list pages as Anthropic's does (`limit`, `after_id`, `before_id`);
//! OpenAI's shape has no paging, so its list is whole, though bad parameters are refused alike.
//! Model aliases come first (they win a call for their name), owned by [`ALIAS_OWNER`], each
//! listed where its target is: in a format whose routes serve it, for a caller whose scope
//! allows it.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{authenticate, format_of, not_allowed, refusal};
use crate::domain::surface::{Format, Surface};
use crate::gateway::error::{Code, GatewayError};
use crate::gateway::health::status::Status;
use crate::gateway::plan::resolve::candidates;
use crate::gateway::table::{Route, Scope, Snapshot};
use crate::gateway::{Chosen, Gateway};
use crate::http::AppState;

/// Anthropic's own bounds and default for `limit`.
const LIMIT: (usize, usize, usize) = (1, 1000, 20);

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    let get_only =
        || web::to(|req: HttpRequest| async move { not_allowed(format_of(&req), "GET") });
    cfg.service(
        web::resource("/models")
            .route(web::get().to(list))
            .default_service(get_only()),
    )
    // Model ids hold `/` and `:`, so the id is the whole rest of the path.
    .service(
        web::resource("/models/{model:.+}")
            .route(web::get().to(retrieve))
            .default_service(get_only()),
    );
}

/// What an alias's entry shows as its owner.
const ALIAS_OWNER: &str = "modelgate-alias";

/// One listed model: its `providerId:modelId` (or an alias), its provider, when that was
/// registered (ms).
struct Entry {
    /// A model alias: `id` and `model` are its name.
    alias: bool,
    id: String,
    owner: String,
    created_ms: u64,
    /// The model id as the provider declares it.
    model: String,
    /// Its provider's status word (`GET /providers/{id}/health`).
    status: &'static str,
}

/// What `format`'s routes accept — the model aliases, the registered providers' declared
/// models, then the catalog providers' discovered ones — and of that only what `scope` (an
/// access key's) allows; without offline providers' models when
/// `gateway.hide_offline_models`.
fn entries(
    gateway: &Gateway,
    snapshot: &Snapshot,
    format: Format,
    scope: Option<&Scope>,
) -> Vec<Entry> {
    let statuses = Statuses::new(gateway);
    // Where an alias's call goes first, if it can go anywhere for this caller — in this
    // format, as the providers' models are listed: one reached only through a translation is
    // listed in its own format's list.
    let first_route = |target: &str| {
        Surface::ALL
            .into_iter()
            .filter(|s| s.format() == format)
            .find_map(|s| {
                let found = candidates(snapshot, target, s, scope).ok()?;
                found
                    .into_iter()
                    .find(|t| t.translation.is_none() && !t.estimate)
            })
            .map(|t| t.route)
    };
    let aliases = snapshot
        .aliases()
        .iter()
        // An alias a provider registered since took the prefix of is not called any more.
        .filter(|a| snapshot.alias_for(&a.alias).is_some())
        .filter_map(|a| {
            let route = first_route(&a.target)?;
            Some(Entry {
                alias: true,
                id: a.alias.clone(),
                owner: ALIAS_OWNER.to_owned(),
                created_ms: a.created_at_ms,
                model: a.alias.clone(),
                // Its target's: an alias with fallbacks stays listed when that is offline.
                status: gateway.status_of(&route).as_str(),
            })
        });
    let discovered = snapshot.discovered_listed().filter(|(route, _, _)| {
        Surface::ALL
            .into_iter()
            .any(|s| s.format() == format && route.serves(s))
    });
    aliases
        .chain(
            snapshot
                .listed(format)
                .map(|(route, model)| (route, model, route.created_ms))
                .chain(discovered)
                .filter(|(route, model, _)| scope.is_none_or(|s| s.allows(snapshot, route, model)))
                .filter_map(|(route, model, created_ms)| {
                    Some(Entry {
                        alias: false,
                        id: format!("{}:{model}", route.slug),
                        owner: route.slug.clone(),
                        created_ms,
                        model: model.to_owned(),
                        status: statuses.of(route)?,
                    })
                }),
        )
        .collect()
}

/// Each listed provider's status, worked out once however many models it lists.
struct Statuses<'g> {
    gateway: &'g Gateway,
    last: std::cell::Cell<Option<(*const Route, Status)>>,
}

impl<'g> Statuses<'g> {
    fn new(gateway: &'g Gateway) -> Statuses<'g> {
        Statuses {
            gateway,
            last: std::cell::Cell::new(None),
        }
    }

    /// `route`'s status word; `None` when its models are hidden.
    fn of(&self, route: &Arc<Route>) -> Option<&'static str> {
        let status = match self.last.get() {
            Some((at, status)) if std::ptr::eq(at, Arc::as_ptr(route)) => status,
            _ => {
                let status = self.gateway.status_of(route);
                self.last.set(Some((Arc::as_ptr(route), status)));
                status
            }
        };
        let hidden = status == Status::Offline && self.gateway.health().hide_offline;
        (!hidden).then(|| status.as_str())
    }
}

fn shown(format: Format, entry: &Entry) -> Value {
    match format {
        Format::OpenAi => json!({
            "id": entry.id, "object": "model", "created": entry.created_ms / 1000,
            "owned_by": entry.owner, "modelgate_status": entry.status,
        }),
        Format::Anthropic => json!({
            "type": "model", "id": entry.id, "display_name": entry.id,
            "created_at": humantime::format_rfc3339_seconds(
                UNIX_EPOCH + Duration::from_millis(entry.created_ms)).to_string(),
            "modelgate_status": entry.status,
        }),
    }
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let format = format_of(&req);
    let configuration = match authenticate(&req, &state) {
        Ok(identity) => identity.configuration,
        Err(error) => return refusal(format, &error, &Chosen::default()),
    };
    let snapshot = state.gateway.snapshot();
    let scope = snapshot.scope(configuration);
    let all = entries(&state.gateway, &snapshot, format, scope.as_deref());
    // The parameters mean the same in both formats, so a bad one is refused in both; but
    // OpenAI's shape cannot say that more follow, so its list is whole.
    let (page, has_more) = match page(&all, req.query_string()) {
        Ok(paged) => paged,
        Err(error) => return refusal(format, &error, &Chosen::default()),
    };
    let body = match format {
        Format::OpenAi => json!({
            "object": "list",
            "data": all.iter().map(|e| shown(format, e)).collect::<Vec<Value>>(),
        }),
        Format::Anthropic => json!({
            "data": page.iter().map(|e| shown(format, e)).collect::<Vec<Value>>(),
            "has_more": has_more,
            "first_id": page.first().map(|e| &e.id),
            "last_id": page.last().map(|e| &e.id),
        }),
    };
    HttpResponse::Ok().json(body)
}

/// Anthropic's paging: up to `limit` models after `after_id`, or just before `before_id`, or
/// from the start; and whether more lie beyond the page in the direction read. Other
/// parameters are not ours to refuse (the SDK's beta client adds `beta=true`).
fn page<'e>(all: &'e [Entry], query: &str) -> Result<(&'e [Entry], bool), GatewayError> {
    let (mut limit, mut after, mut before) = (None, None, None);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (slot, name) = match key.as_ref() {
            "limit" => (&mut limit, "limit"),
            "after_id" => (&mut after, "after_id"),
            "before_id" => (&mut before, "before_id"),
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(invalid(name, format!("{name} must be given once")));
        }
    }
    let (min, max, default) = LIMIT;
    let limit = match limit {
        None => default,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                invalid(
                    "limit",
                    format!("limit must be an integer from {min} to {max}"),
                )
            })?,
    };
    let at = |name: &'static str, id: &str| {
        all.iter().position(|e| e.id == id).ok_or_else(|| {
            invalid(
                name,
                format!("{name} `{}` is not the id of a listed model", cut(id)),
            )
        })
    };
    Ok(match (after, before) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "before_id",
                "give after_id or before_id, not both".to_owned(),
            ));
        }
        (Some(id), None) => {
            let start = at("after_id", &id)? + 1;
            let end = (start + limit).min(all.len());
            (&all[start..end], end < all.len())
        }
        (None, Some(id)) => {
            let end = at("before_id", &id)?;
            let start = end.saturating_sub(limit);
            (&all[start..end], start > 0)
        }
        (None, None) => (&all[..limit.min(all.len())], limit < all.len()),
    })
}

fn invalid(param: &'static str, message: String) -> GatewayError {
    GatewayError::new(Code::InvalidQuery, message).at(param)
}

/// A caller's id quoted in a message, cut so it cannot bloat the answer.
fn cut(id: &str) -> String {
    match id.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &id[..at]),
        None => id.to_owned(),
    }
}

async fn retrieve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let format = format_of(&req);
    let configuration = match authenticate(&req, &state) {
        Ok(identity) => identity.configuration,
        Err(error) => return refusal(format, &error, &Chosen::default()),
    };
    // The router leaves `%2F` (and `%25`, `%2B`) encoded; the SDKs encode a `/` in an id so.
    let raw = req.match_info().get("model").unwrap_or_default();
    let wanted = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let snapshot = state.gateway.snapshot();
    let scope = snapshot.scope(configuration);
    let all = entries(&state.gateway, &snapshot, format, scope.as_deref());
    if let Some(entry) = find(&snapshot, &all, &wanted) {
        return HttpResponse::Ok().json(shown(format, entry));
    }
    let other = match format {
        Format::OpenAi => Format::Anthropic,
        Format::Anthropic => Format::OpenAi,
    };
    let elsewhere = find(
        &snapshot,
        &entries(&state.gateway, &snapshot, other, scope.as_deref()),
        &wanted,
    )
    .is_some();
    let message = match elsewhere {
        true => format!(
            "model `{}` is served in the {} format only; this request asked in the {} format \
             (`anthropic-version` picks Anthropic's)",
            cut(&wanted),
            other.name(),
            format.name()
        ),
        false => format!(
            "no model `{}` among those GET /v1/models lists",
            cut(&wanted)
        ),
    };
    let error = GatewayError::new(Code::ModelNotFound, message).at("model");
    refusal(format, &error, &Chosen::default())
}

/// The listed model a call naming `wanted` would reach first: `providerId:modelId` when the
/// prefix is a registered provider, else a bare model id across providers; the exact spelling
/// first, then ignoring case, as calls resolve names.
fn find<'e>(snapshot: &Snapshot, all: &'e [Entry], wanted: &str) -> Option<&'e Entry> {
    let (owner, model) = match wanted.split_once(':') {
        Some((prefix, rest)) if snapshot.route(prefix).is_some() => (Some(prefix), rest),
        _ => (None, wanted),
    };
    let mine = || {
        all.iter().filter(move |e| match owner {
            None => true,
            Some(o) => !e.alias && e.owner == o,
        })
    };
    let folded = model.to_lowercase();
    mine()
        .find(|e| e.model == model)
        .or_else(|| mine().find(|e| e.model.to_lowercase() == folded))
}
