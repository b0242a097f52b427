//! `/providers`: the ngrok AI Gateway provider API.

use std::time::{Duration, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use ulid::Ulid;

use super::{AppState, method_not_allowed, no_route, truncated};
use crate::auth::{Caller, require_bearer};
use crate::body::{Empty, read_json};
use crate::domain::{
    CreateProvider, NewProvider, Precondition, Provider, ProviderChanges, UpdateProvider,
    Violations, now_ms,
};
use crate::error::ApiError;
use crate::store::Rejection;

pub const MAX_PAGE: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/providers")
            .wrap(middleware::from_fn(require_bearer))
            .service(
                web::resource("")
                    .route(web::get().to(list))
                    .route(web::head().to(list))
                    .route(web::post().to(create))
                    .default_service(method_not_allowed("GET, HEAD, POST")),
            )
            .service(
                web::resource("/{id}")
                    .route(web::get().to(get))
                    .route(web::head().to(get))
                    .route(web::patch().to(update))
                    .route(web::delete().to(delete))
                    .default_service(method_not_allowed("GET, HEAD, PATCH, DELETE")),
            )
            .default_service(web::to(no_route)),
    );
}

async fn create(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let input: CreateProvider = read_json(&req, body, Empty::Refuse).await?;
    let provider = Provider::create(NewProvider::parse(input)?, now_ms(), &caller.id);
    let slug = provider.provider_id.as_str().to_owned();
    let outcome = state
        .store(move |store| Ok(store.create(&provider)?.map(|()| provider)))
        .await?;
    match outcome {
        Ok(provider) => {
            let uri = state.uri(&provider_path(provider.id));
            Ok(HttpResponse::Created()
                .insert_header((header::LOCATION, uri))
                .insert_header((header::ETAG, provider.etag()))
                .json(ProviderView::new(&provider, &state)))
        }
        Err(Rejection::ProviderIdTaken) => Err(ApiError::ProviderIdTaken(slug)),
        Err(other) => Err(unexpected(other)),
    }
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (before, limit) = page_query(req.query_string())?;
    let page = state.store(move |store| store.list(before, limit)).await?;
    let next_page_uri = match (page.has_more, page.items.last()) {
        (true, Some(last)) => {
            Some(state.uri(&format!("/providers?beforeId={}&limit={limit}", last.id)))
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(ListView {
        ai_gateway_providers: page
            .items
            .iter()
            .map(|p| ProviderView::new(p, &state))
            .collect(),
        uri: state.uri("/providers"),
        next_page_uri,
    }))
}

async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req)?;
    let provider = state
        .store(move |store| store.get(id))
        .await?
        .ok_or_else(|| not_found(&req))?;
    let etag = provider.etag();
    if none_match_hits(req.headers(), &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .json(ProviderView::new(&provider, &state)))
}

async fn update(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req)?;
    let precondition = if_match(req.headers());
    let input: UpdateProvider = read_json(&req, body, Empty::NoChange).await?;
    let changes = ProviderChanges::parse(input)?;
    let outcome = state
        .store(move |store| {
            store.update(id, &|current| {
                if precondition.as_ref().is_some_and(|p| !p.allows(current)) {
                    return Err(Rejection::PreconditionFailed);
                }
                Ok(changes.apply(current, now_ms(), &caller.id))
            })
        })
        .await?;
    match outcome {
        Ok(provider) => Ok(HttpResponse::Ok()
            .insert_header((header::ETAG, provider.etag()))
            .json(ProviderView::new(&provider, &state))),
        Err(Rejection::NotFound) => Err(not_found(&req)),
        Err(Rejection::PreconditionFailed) => Err(ApiError::PreconditionFailed),
        Err(other) => Err(unexpected(other)),
    }
}

async fn delete(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req)?;
    let precondition = if_match(req.headers());
    let outcome = state
        .store(move |store| store.delete(id, precondition.as_ref()))
        .await?;
    match outcome {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(Rejection::NotFound) => Err(not_found(&req)),
        Err(Rejection::PreconditionFailed) => Err(ApiError::PreconditionFailed),
        Err(other) => Err(unexpected(other)),
    }
}

fn provider_path(id: Ulid) -> String {
    format!("/providers/{id}")
}

/// An id that is not a ULID names no provider: that is a 404, like any other unknown id.
fn path_id(req: &HttpRequest) -> Result<Ulid, ApiError> {
    let raw = req.match_info().get("id").unwrap_or_default();
    Ulid::from_string(raw).map_err(|_| not_found(req))
}

fn not_found(req: &HttpRequest) -> ApiError {
    let raw = req.match_info().get("id").unwrap_or_default();
    ApiError::NotFound(format!("no provider with id `{}`", truncated(raw, 64)))
}

fn unexpected(r: Rejection) -> ApiError {
    ApiError::internal(format!("store answered {r:?} where it cannot"))
}

/// `beforeId` and `limit`, each checked, all problems reported together.
fn page_query(query: &str) -> Result<(Option<Ulid>, usize), ApiError> {
    let mut v = Violations::default();
    let (mut before, mut limit) = (None, None);
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "beforeId" => &mut before,
            "limit" => &mut limit,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            v.add(key, "must be given at most once");
        }
    }
    let limit = match limit {
        None => MAX_PAGE,
        Some(raw) => v
            .check(
                "limit",
                raw.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| format!("must be an integer from 1 to {MAX_PAGE}")),
            )
            .unwrap_or(MAX_PAGE),
    };
    let before = before.and_then(|raw| {
        v.check(
            "beforeId",
            Ulid::from_string(&raw)
                .map_err(|_| "must be a provider id (a 26-character ULID)".to_owned()),
        )
    });
    if v.is_empty() {
        Ok((before, limit))
    } else {
        Err(ApiError::InvalidQuery(v.into_map()))
    }
}

fn header_values(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<String>> {
    let mut found = false;
    let mut tags = Vec::new();
    for value in headers.get_all(name) {
        found = true;
        let text = value.to_str().unwrap_or_default();
        tags.extend(
            text.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        );
    }
    found.then_some(tags)
}

/// `If-Match`, compared strongly: a weak tag never matches.
fn if_match(headers: &HeaderMap) -> Option<Precondition> {
    let tags = header_values(headers, header::IF_MATCH)?;
    Some(if tags.iter().any(|t| t == "*") {
        Precondition::Exists
    } else {
        Precondition::OneOf(tags)
    })
}

/// `If-None-Match`, compared weakly as RFC 9110 asks for GET.
fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    header_values(headers, header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
    })
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListView<'a> {
    ai_gateway_providers: Vec<ProviderView<'a>>,
    uri: String,
    next_page_uri: Option<String>,
}

/// A provider as the API shows it (ngrok's `AIGatewayProvider`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderView<'a> {
    id: String,
    uri: String,
    provider_id: &'a str,
    name: &'a str,
    base_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
    created_at: String,
    updated_at: String,
    created_by: RefView,
    last_updated_by: RefView,
    supported_api_surfaces: Vec<SurfaceView<'a>>,
    models: Vec<ModelView<'a>>,
}

#[derive(Serialize)]
struct RefView {
    id: String,
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SurfaceView<'a> {
    format: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    surface: Option<&'a str>,
    supported_params: Vec<ParamView<'a>>,
}

#[derive(Serialize)]
struct ParamView<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelView<'a> {
    id: String,
    model_id: &'a str,
}

impl<'a> ProviderView<'a> {
    fn new(p: &'a Provider, state: &AppState) -> ProviderView<'a> {
        let credential = |id: &str| RefView {
            id: id.to_owned(),
            uri: state.uri(&format!("/api-keys/{id}")),
        };
        ProviderView {
            id: p.id.to_string(),
            uri: state.uri(&provider_path(p.id)),
            provider_id: p.provider_id.as_str(),
            name: &p.name,
            base_url: &p.base_url,
            metadata: p.metadata.as_deref(),
            created_at: rfc3339(p.created_at_ms),
            updated_at: rfc3339(p.updated_at_ms),
            created_by: credential(&p.created_by),
            last_updated_by: credential(&p.last_updated_by),
            supported_api_surfaces: p
                .surfaces
                .iter()
                .map(|s| SurfaceView {
                    format: &s.format,
                    surface: s.surface.as_deref(),
                    supported_params: s
                        .supported_params
                        .iter()
                        .map(|name| ParamView { name })
                        .collect(),
                })
                .collect(),
            models: p
                .models
                .iter()
                .map(|m| ModelView {
                    id: m.id.to_string(),
                    model_id: &m.model_id,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_query_reports_every_bad_parameter() {
        let err = page_query("limit=0&beforeId=nope").unwrap_err();
        let ApiError::InvalidQuery(d) = err else {
            panic!("{err:?}")
        };
        assert!(d.contains_key("limit") && d.contains_key("beforeId"));
        assert_eq!(page_query("").unwrap(), (None, 100));
        assert_eq!(page_query("limit=100&other=1").unwrap(), (None, 100));
        assert!(page_query("limit=101").is_err());
        assert!(page_query("limit=5&limit=6").is_err());
    }
}
