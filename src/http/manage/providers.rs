//! `/providers`: the ngrok AI Gateway provider API.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use ulid::Ulid;
use utoipa::ToSchema;

use super::provider_health::{self, Capability, Include, StatusWord};
use super::{discovery, probes};
use crate::domain::schema;
use crate::domain::settings::{NetworkBody, ProxyBody};
use crate::domain::{CreateProvider, Input, Provider, UpdateProvider};
use crate::http::auth::{Caller, require_bearer};
use crate::http::body::{Empty, read_json};
use crate::http::conditional::{if_match, tagged};
use crate::http::error::ApiError;
use crate::http::paging::ListQuery;
use crate::http::query;
use crate::http::{
    AppState, Ref, docs, method_not_allowed, no_route, not_found, path_id, rfc3339, write_failed,
};

const NOUN: &str = "provider";

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
            .service(
                web::resource("/{id}/test")
                    .route(web::post().to(probes::test_provider))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/{id}/discover-models")
                    .route(web::post().to(discovery::discover_models))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/{id}/health")
                    .route(web::get().to(provider_health::health))
                    .route(web::head().to(provider_health::health))
                    .default_service(method_not_allowed("GET, HEAD")),
            )
            .default_service(web::to(no_route)),
    );
}

#[utoipa::path(
    post, path = "/providers", tag = "providers", operation_id = "createProvider",
    summary = "Register a provider",
    params(docs::Validate),
    request_body = CreateProvider,
    responses(
        (status = 201, description = "Created; durable before this answer.", body = ProviderView,
            headers(("ETag" = String, description = "Entity tag of this version"),
                    ("Location" = String, description = "URI of the new provider"))),
        (status = 409, response = docs::Conflict),
        (status = 422, response = docs::ProbeFailed),
        docs::BodyErrors,
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let validate = probes::validate(&req)?;
    let input: Input<CreateProvider> = read_json(&req, body, Empty::Refuse).await?;
    let registry = &state.registry;
    let written = match validate {
        false => registry.create_provider(input, &caller.id).await,
        true => {
            let gateway = &state.gateway;
            let check = |p| probes::passes(gateway, p, true);
            registry
                .create_provider_checked(input, &caller.id, check)
                .await
        }
    };
    let provider = written.map_err(|e| write_failed(&req, NOUN, e))?;
    let uri = state.uri(&provider_path(provider.id));
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, uri))
        .insert_header((header::ETAG, provider.etag()))
        .json(ProviderView::new(&provider, &state)))
}

#[utoipa::path(
    get, path = "/providers", tag = "providers", operation_id = "listProviders",
    summary = "List providers, newest first",
    params(docs::Paging, docs::Include),
    responses(
        (status = 200, description = "One page.", body = ListView),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse_including(&req)?;
    let include = Include::parse(query.include.as_deref())?;
    let page = state.registry.store().list(query.before, query.limit)?;
    let last = page.items.last().map(|p| p.id);
    Ok(HttpResponse::Ok().json(ListView {
        ai_gateway_providers: page
            .items
            .iter()
            .map(|p| ProviderView::new(p, &state).including(include, p, &state))
            .collect(),
        uri: state.uri("/providers"),
        next_page_uri: query.next_page(&state, "/providers", page.has_more, last),
    }))
}

#[utoipa::path(
    get, path = "/providers/{id}", tag = "providers", operation_id = "getProvider",
    summary = "Get a provider",
    params(docs::Id, docs::IfNoneMatch, docs::Include),
    responses(
        (status = 200, description = "The provider.", body = ProviderView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 304, response = docs::NotModified),
        (status = 404, response = docs::NotFound),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let include = query::include(&req)?;
    let include = Include::parse(include.as_deref())?;
    let id = path_id(&req, NOUN)?;
    let provider = state
        .registry
        .store()
        .get(id)?
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(tagged(
        &req,
        provider.etag(),
        &ProviderView::new(&provider, &state).including(include, &provider, &state),
    ))
}

#[utoipa::path(
    patch, path = "/providers/{id}", tag = "providers", operation_id = "updateProvider",
    summary = "Change some fields of a provider",
    description = "Fields left out keep their value; `null` clears an optional field. An empty \
        body changes nothing. `providerId` cannot change.",
    params(docs::Id, docs::IfMatch, docs::Validate),
    request_body(content = UpdateProvider, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The provider after the change; durable before this answer.",
            body = ProviderView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 404, response = docs::NotFound),
        (status = 412, response = docs::PreconditionFailed),
        (status = 422, response = docs::ProbeFailed),
        docs::BodyErrors,
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let validate = probes::validate(&req)?;
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    let input: Input<UpdateProvider> = read_json(&req, body, Empty::NoChange).await?;
    let registry = &state.registry;
    let written = match validate {
        false => {
            registry
                .update_provider(id, input, precondition, &caller.id)
                .await
        }
        true => {
            let gateway = &state.gateway;
            let check = |p| probes::passes(gateway, p, false);
            registry
                .update_provider_checked(id, input, precondition, &caller.id, check)
                .await
        }
    };
    let provider = written.map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, provider.etag()))
        .json(ProviderView::new(&provider, &state)))
}

/// `?cascade=true` deletes the provider's keys with it; otherwise a provider with keys stays.
#[utoipa::path(
    delete, path = "/providers/{id}", tag = "providers", operation_id = "deleteProvider",
    summary = "Delete a provider",
    params(docs::Id, docs::IfMatch, docs::Cascade),
    responses(
        (status = 204, description = "Deleted; durable before this answer."),
        (status = 404, response = docs::NotFound),
        (status = 409, response = docs::Conflict),
        (status = 412, response = docs::PreconditionFailed),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    let cascade = query::cascade(&req)?.then_some(caller.id);
    state
        .registry
        .delete_provider(id, precondition, cascade)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::NoContent().finish())
}

fn provider_path(id: Ulid) -> String {
    format!("/providers/{id}")
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayProviderList)]
pub(crate) struct ListView<'a> {
    ai_gateway_providers: Vec<ProviderView<'a>>,
    uri: String,
    next_page_uri: Option<String>,
}

/// A provider as the API shows it (ngrok's `AIGatewayProvider`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayProvider)]
pub(crate) struct ProviderView<'a> {
    id: String,
    uri: String,
    provider_id: &'a str,
    name: &'a str,
    base_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
    created_at: String,
    updated_at: String,
    created_by: Ref,
    last_updated_by: Ref,
    supported_api_surfaces: Vec<SurfaceView<'a>>,
    models: Vec<ModelView<'a>>,
    // modelgate's own fields, each only when set, so that a provider without them answers
    // in ngrok's closed shape. Their schemas are the request's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::network)]
    network: Option<NetworkBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::proxy)]
    proxy: Option<ProxyBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::concurrency)]
    concurrency: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::buffer_size)]
    buffer_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::keyless)]
    keyless: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(schema_with = schema::request_path_overrides)]
    request_path_overrides: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schema::allow_private_network)]
    allow_private_network: Option<bool>,
    /// Only with `?include=status` (see `GET /providers/{id}/health`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    status: Option<StatusWord>,
    /// Only with `?include=capabilities`: `llm` when it serves chat, completions, responses
    /// or messages, `embedding` when it serves embeddings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    capabilities: Option<Vec<Capability>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayProviderAPISurface)]
struct SurfaceView<'a> {
    format: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    surface: Option<&'a str>,
    supported_params: Vec<ParamView<'a>>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = AIGatewayProviderParam)]
struct ParamView<'a> {
    name: &'a str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayProviderModel)]
struct ModelView<'a> {
    id: String,
    model_id: &'a str,
}

impl<'a> ProviderView<'a> {
    fn new(p: &'a Provider, state: &AppState) -> ProviderView<'a> {
        ProviderView {
            id: p.id.to_string(),
            uri: state.uri(&provider_path(p.id)),
            provider_id: p.provider_id.as_str(),
            name: &p.name,
            base_url: &p.base_url,
            metadata: p.metadata.as_deref(),
            created_at: rfc3339(p.created_at_ms),
            updated_at: rfc3339(p.updated_at_ms),
            created_by: state.credential(&p.created_by),
            last_updated_by: state.credential(&p.last_updated_by),
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
            network: p.settings.network.as_ref().map(NetworkBody::answer),
            proxy: p.settings.proxy.as_ref().map(ProxyBody::answer),
            concurrency: p.settings.concurrency,
            buffer_size: p.settings.buffer_size,
            keyless: p.settings.keyless,
            request_path_overrides: &p.settings.path_overrides,
            allow_private_network: p.settings.allow_private_network,
            status: None,
            capabilities: None,
        }
    }

    /// With what `?include=` asked for.
    fn including(mut self, include: Include, p: &Provider, state: &AppState) -> ProviderView<'a> {
        self.status = include.status(&state.gateway, p);
        self.capabilities = include.capabilities(p);
        self
    }
}
