//! Bifrost's provider API, `/api/providers`: list, get, create (POST), update (PUT, an upsert
//! as Bifrost's is) and delete, over the registry every other API writes. Management
//! credentials only, as `Authorization: Bearer`; errors in Bifrost's `BifrostError` shape,
//! `{is_bifrost_error, status_code, error: {message}}`.

mod blocks;
mod body;
pub(crate) mod keys;
mod names;
mod view;

pub(crate) use view::{List as ListView, View as ProviderView};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Serialize;
use ulid::Ulid;

use super::Problem;
use crate::domain::extension::Extension;
use crate::domain::{CreateProvider, Input, Provider, UpdateProvider, Violations};
use crate::http::auth::{Caller, authenticate};
use crate::http::body::{Empty, read_json};
use crate::http::error::ApiError;
use crate::http::{AppState, MAX_PAGE, json, write_failed};
use crate::registry::WriteError;
use body::Body;
use view::{List, View};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/providers")
            .wrap(from_fn(require_bearer))
            .service(
                web::resource("")
                    .route(web::get().to(list))
                    .route(web::head().to(list))
                    .route(web::post().to(create))
                    .default_service(web::to(|| async { not_allowed("GET, HEAD, POST") })),
            )
            .configure(keys::configure)
            .service(
                web::resource("/{provider}")
                    .route(web::get().to(get))
                    .route(web::head().to(get))
                    .route(web::put().to(update))
                    .route(web::delete().to(delete))
                    .default_service(web::to(|| async { not_allowed("GET, HEAD, PUT, DELETE") })),
            )
            .default_service(web::to(|req: HttpRequest| async move {
                error(
                    StatusCode::NOT_FOUND,
                    format!("no route for {}", req.path()),
                )
            })),
    );
}

/// Bifrost's error: every answer that is not a success.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BifrostError)]
pub(crate) struct ErrorBody {
    is_bifrost_error: bool,
    status_code: u16,
    error: ErrorField,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BifrostErrorField)]
struct ErrorField {
    message: String,
}

fn error(status: StatusCode, message: String) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        is_bifrost_error: false,
        status_code: status.as_u16(),
        error: ErrorField { message },
    })
}

fn not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("this route does not accept that method; allowed: {allow}"),
    );
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

/// An ngrok API error in Bifrost's shape, its fields by Bifrost's names.
struct Failure(Problem);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure(Problem::of(&e, blocks::bifrost_path))
    }
}

impl Failure {
    fn invalid(v: &Violations) -> Failure {
        Failure::from(ApiError::Validation(v.clone()))
    }

    fn response(self) -> HttpResponse {
        error(self.0.status, self.0.message)
    }
}

type Answer = Result<HttpResponse, Failure>;

fn answer(result: Answer) -> HttpResponse {
    result.unwrap_or_else(Failure::response)
}

/// The management API's credential check, refusing in Bifrost's shape.
async fn require_bearer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match authenticate(&req) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refusal) => {
            let mut response = Failure::from(refusal).response();
            response.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Bearer realm=\"modelgate\""),
            );
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

fn not_found(name: &str) -> Failure {
    Failure(Problem {
        status: StatusCode::NOT_FOUND,
        message: format!("Provider not found: {}", crate::http::truncated(name, 64)),
    })
}

/// The record the path's `{provider}` names, by its `providerId`.
fn find(state: &AppState, name: &str) -> Result<Option<(Provider, Extension)>, Failure> {
    let id = state
        .gateway
        .snapshot()
        .route(name)
        .and_then(|route| route.id);
    let Some(id) = id else { return Ok(None) };
    read(state, id)
}

fn read(state: &AppState, id: Ulid) -> Result<Option<(Provider, Extension)>, Failure> {
    let store = state.registry.store();
    let Some(provider) = store.get(id).map_err(ApiError::from)? else {
        return Ok(None);
    };
    let extension = store.extension(id).map_err(ApiError::from)?;
    Ok(Some((provider, extension)))
}

fn written(req: &HttpRequest, e: WriteError) -> Failure {
    match e {
        WriteError::Rejected(crate::store::Rejection::ProviderIdTaken(name)) => Failure(Problem {
            status: StatusCode::CONFLICT,
            message: format!("Provider {name} already exists"),
        }),
        e => Failure::from(write_failed(req, "provider", e)),
    }
}

/// The ngrok body a translation made, parsed as the ngrok API parses its own.
fn ngrok<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<Input<T>, Failure> {
    let bytes = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok(json::parse(&bytes)?)
}

#[utoipa::path(
    get, path = "/api/providers", tag = "bifrost", operation_id = "bifrostListProviders",
    summary = "List providers (Bifrost's shape), by name",
    responses(
        (status = 200, description = "Every provider.", body = ListView),
        (status = 401, description = "No management credential as Bearer.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(state: web::Data<AppState>) -> HttpResponse {
    answer(listed(&state))
}

fn listed(state: &AppState) -> Answer {
    let store = state.registry.store();
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store.list(before, MAX_PAGE).map_err(ApiError::from)?;
        before = page.items.last().map(|p| p.id);
        all.extend(page.items);
        if !page.has_more {
            break;
        }
    }
    let mut providers = Vec::with_capacity(all.len());
    for p in &all {
        let ext = store.extension(p.id).map_err(ApiError::from)?;
        providers.push((p.provider_id.as_str(), View::of(p, &ext, &state.gateway)));
    }
    providers.sort_by(|a, b| a.0.cmp(b.0));
    let providers: Vec<View> = providers.into_iter().map(|(_, v)| v).collect();
    Ok(HttpResponse::Ok().json(List {
        total: providers.len(),
        providers,
    }))
}

#[utoipa::path(
    get, path = "/api/providers/{provider}", tag = "bifrost", operation_id = "bifrostGetProvider",
    summary = "Get a provider by its providerId (Bifrost's shape)",
    params(("provider" = String, Path, description = "The provider's `providerId`")),
    responses(
        (status = 200, description = "The provider.", body = ProviderView),
        (status = 404, description = "No such provider.", body = ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let name = req.match_info().get("provider").unwrap_or_default();
    answer(match find(&state, name) {
        Ok(Some((p, ext))) => Ok(HttpResponse::Ok().json(View::of(&p, &ext, &state.gateway))),
        Ok(None) => Err(not_found(name)),
        Err(e) => Err(e),
    })
}

#[utoipa::path(
    post, path = "/api/providers", tag = "bifrost", operation_id = "bifrostAddProvider",
    summary = "Add a provider (Bifrost's add-provider body)",
    description = "`provider` becomes the `providerId` and the `name`. A Bifrost name that speaks \
        OpenAI's or Anthropic's API (`openai`-compatible: groq, mistral, ollama, vllm, …) takes \
        that format and, where it has one, its public address; any other needs \
        `custom_provider_config.base_provider_type`. `status`, `description` and `config_hash` \
        are answer-only. Keys are managed under `/api/providers/{provider}/keys` (or `/provider-keys`). On the data plane, \
        `send_back_raw_request` / `send_back_raw_response` make the provider's successful \
        answers that are not streamed carry `extra_fields.raw_request` (the body sent upstream) \
        and `extra_fields.raw_response` (the upstream's answer), in the provider's format before \
        any translation and never with a credential; streamed answers carry neither. An \
        `allowed_requests` kind allowed with its `*_stream` flag off refuses streamed calls of \
        it (`stream_not_allowed`, in the caller's format) unless another provider serving the \
        model allows them.",
    request_body(content = Object, description = "Bifrost's add-provider body (seed 002)."),
    responses(
        (status = 200, description = "Added; durable before this answer.", body = ProviderView),
        (status = 409, description = "A provider with this name exists.", body = ErrorBody),
        (status = 400, description = "Bad input, naming each field by Bifrost's name.", body = ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(
        async {
            let input: Input<Body> = read_json(&req, payload, Empty::Refuse).await?;
            created(&req, input, &caller, &state).await
        }
        .await,
    )
}

async fn created(
    req: &HttpRequest,
    input: Input<Body>,
    caller: &Caller,
    state: &AppState,
) -> Answer {
    let mut v = input.violations;
    let translated = body::create(&input.value, &mut v);
    if !v.is_empty() {
        return Err(Failure::invalid(&v));
    }
    let ngrok: Input<CreateProvider> = ngrok(&translated.ngrok)?;
    let extension = translated.extension.applied(&Extension::default());
    let (p, ext) = state
        .registry
        .create_provider_extended(ngrok, extension, None, false, &caller.id, |_, _| async {
            Ok(())
        })
        .await
        .map_err(|e| written(req, e))?;
    Ok(HttpResponse::Ok().json(View::of(&p, &ext, &state.gateway)))
}

/// Bifrost's PUT: an update of the provider the path names, or its creation when there is
/// none (Bifrost upserts).
#[utoipa::path(
    put, path = "/api/providers/{provider}", tag = "bifrost", operation_id = "bifrostUpdateProvider",
    summary = "Update a provider, or add it when there is none (Bifrost's PUT)",
    description = "As Bifrost's handler applies it: `network_config` and \
        `concurrency_and_buffer_size` are replaced whole (left out: cleared; the base URL is \
        kept when none is sent); `proxy_config` and `custom_provider_config` only when sent \
        (`null` clears them); the raw flags only when sent. What Bifrost cannot say (`name`, \
        `metadata`, `models`, AgentStack's fields) is kept. `keys` are refused.",
    params(("provider" = String, Path, description = "The provider's `providerId`")),
    request_body(content = Object, description = "Bifrost's update body."),
    responses(
        (status = 200, description = "The provider after the change; durable before this answer.",
            body = ProviderView),
        (status = 400, description = "Bad input, naming each field by Bifrost's name.", body = ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(
        async {
            let name = req
                .match_info()
                .get("provider")
                .unwrap_or_default()
                .to_owned();
            let mut input: Input<Body> = read_json(&req, payload, Empty::NoChange).await?;
            let Some((current, _)) = find(&state, &name)? else {
                if input.value.provider.is_some() {
                    let mut v = input.violations.clone();
                    v.add(
                        "provider",
                        "is not accepted here: the provider is the one the path names",
                    );
                    return Err(Failure::invalid(&v));
                }
                input.value.provider = Some(name);
                return created(&req, input, &caller, &state).await;
            };
            let mut v = input.violations;
            let translated = body::update(&input.value, view::format_of(&current), &mut v);
            if !v.is_empty() {
                return Err(Failure::invalid(&v));
            }
            let ngrok: Input<UpdateProvider> = ngrok(&translated.ngrok)?;
            let change = translated.extension;
            let (p, ext) = state
                .registry
                .update_provider_extended(
                    current.id,
                    ngrok,
                    Box::new(move |ext| change.applied(ext)),
                    None,
                    &caller.id,
                )
                .await
                .map_err(|e| written(&req, e))?;
            Ok(HttpResponse::Ok().json(View::of(&p, &ext, &state.gateway)))
        }
        .await,
    )
}

#[derive(Serialize)]
struct Deleted<'a> {
    name: &'a str,
    status: &'static str,
}

/// Deletes the provider with its keys, as Bifrost's delete does.
#[utoipa::path(
    delete, path = "/api/providers/{provider}", tag = "bifrost", operation_id = "bifrostDeleteProvider",
    summary = "Delete a provider and its keys",
    params(("provider" = String, Path, description = "The provider's `providerId`")),
    responses(
        (status = 200, description = "Deleted; durable before this answer.", body = Object),
        (status = 404, description = "No such provider.", body = ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> HttpResponse {
    let name = req.match_info().get("provider").unwrap_or_default();
    answer(
        async {
            let Some((p, _)) = find(&state, name)? else {
                return Err(not_found(name));
            };
            state
                .registry
                .delete_provider(p.id, None, Some(caller.id.clone()))
                .await
                .map_err(|e| written(&req, e))?;
            Ok(HttpResponse::Ok().json(Deleted {
                name,
                status: "deleted",
            }))
        }
        .await,
    )
}
