//! AgentStack's model providers, `/api/v1/model_providers`: create (the provider probed with
//! its `api_key` first, refused with 424 when the probe fails, as AgentStack does), list, get
//! and delete, over the registry every other API writes. Ids are the records' 128-bit ids
//! written as UUIDs. `Authorization: Basic`: the credential's id as the user (`admin` for the
//! admin token), its token as the password. Errors in AgentStack's `{detail}` shape.

mod body;
mod matching;
mod types;
mod view;

pub(crate) use view::{List as ListView, View as ProviderView};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine;
use serde::Serialize;

use super::Problem;
use crate::auth::Credentials;
use crate::domain::same_base_url;
use crate::domain::{CreateProvider, CreateProviderKey, Input, Provider};
use crate::gateway::Gateway;
use crate::http::auth::{Caller, note_use};
use crate::http::body::{Empty, read_json};
use crate::http::error::ApiError;
use crate::http::{AppState, MAX_PAGE, json, write_failed};
use crate::registry::WriteError;
use crate::store::Rejection;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/model_providers")
            .wrap(from_fn(require_basic))
            .service(
                web::resource("")
                    .route(web::get().to(list))
                    .route(web::head().to(list))
                    .route(web::post().to(create))
                    .default_service(web::to(|| async { not_allowed("GET, HEAD, POST") })),
            )
            .service(
                web::resource("/match")
                    .route(web::post().to(match_models))
                    .default_service(web::to(|| async { not_allowed("POST") })),
            )
            .service(
                web::resource("/{id}")
                    .route(web::get().to(get))
                    .route(web::head().to(get))
                    .route(web::delete().to(delete))
                    .default_service(web::to(|| async { not_allowed("GET, HEAD, DELETE") })),
            )
            .default_service(web::to(|req: HttpRequest| async move {
                error(
                    StatusCode::NOT_FOUND,
                    format!("no route for {}", req.path()),
                )
            })),
    );
}

/// AgentStack's (FastAPI's) error body.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AgentStackError)]
pub(crate) struct ErrorBody {
    detail: String,
}

fn error(status: StatusCode, detail: String) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody { detail })
}

fn not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed".into());
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

struct Failure(Problem);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        // FastAPI answers a body it cannot accept with 422.
        let status = match e.kind().0 {
            StatusCode::BAD_REQUEST => StatusCode::UNPROCESSABLE_ENTITY,
            other => other,
        };
        let mut problem = Problem::of(&e, body::agentstack_path);
        problem.status = status;
        Failure(problem)
    }
}

impl Failure {
    fn new(status: StatusCode, detail: impl Into<String>) -> Failure {
        Failure(Problem {
            status,
            message: detail.into(),
        })
    }

    fn response(self) -> HttpResponse {
        error(self.0.status, self.0.message)
    }
}

type Answer = Result<HttpResponse, Failure>;

fn answer(result: Answer) -> HttpResponse {
    result.unwrap_or_else(Failure::response)
}

/// `Authorization: Basic base64(id:token)`: the token must be a management credential's and
/// the user its id. A refusal is an answer, in AgentStack's shape.
async fn require_basic(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match authenticate(&req) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refusal) => {
            let mut response = refusal.response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"modelgate\""),
                );
            }
            Ok(req.into_response(response).map_into_right_body())
        }
    }
}

fn authenticate(req: &ServiceRequest) -> Result<Caller, Failure> {
    let refused = || Failure::new(StatusCode::UNAUTHORIZED, "Not authenticated");
    let credentials = req
        .app_data::<web::Data<Credentials>>()
        .ok_or_else(|| Failure::from(ApiError::internal("no credentials in app data")))?;
    let mut presented = req.headers().get_all(header::AUTHORIZATION);
    let (Some(value), None) = (presented.next(), presented.next()) else {
        return Err(refused());
    };
    let encoded = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .ok_or_else(refused)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(refused)?;
    let decoded = zeroize::Zeroizing::new(decoded);
    let (user, token) = decoded.split_once(':').ok_or_else(refused)?;
    let identity = credentials.identify(token).ok_or_else(refused)?;
    if identity.kind == crate::auth::Kind::Access {
        return Err(Failure::from(ApiError::AccessKeyNotAllowed));
    }
    if identity.id != user {
        return Err(refused());
    }
    note_use(
        req.app_data::<web::Data<AppState>>().map(|s| &***s),
        &identity,
    );
    Ok(Caller { id: identity.id })
}

fn not_found(id: &str) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        format!(
            "model_provider with id {} not found",
            crate::http::truncated(id, 64)
        ),
    )
}

/// Every provider, newest first.
fn all(state: &AppState) -> Result<Vec<Provider>, Failure> {
    let store = state.registry.store();
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store.list(before, MAX_PAGE).map_err(ApiError::from)?;
        before = page.items.last().map(|p| p.id);
        all.extend(page.items);
        if !page.has_more {
            return Ok(all);
        }
    }
}

#[utoipa::path(
    get, path = "/api/v1/model_providers", tag = "agentstack",
    operation_id = "agentstackListModelProviders",
    summary = "List model providers (AgentStack's shape), newest first",
    responses(
        (status = 200, description = "Every provider.", body = ListView),
        (status = 401, description = "No management credential as Basic.", body = ErrorBody),
    ),
    security(("basic" = []))
)]
pub(crate) async fn list(state: web::Data<AppState>) -> HttpResponse {
    answer((|| {
        let store = state.registry.store();
        let mut items = Vec::new();
        for p in all(&state)? {
            let ext = store.extension(p.id).map_err(ApiError::from)?;
            items.push(ProviderView::of(&p, &ext, &state.gateway));
        }
        Ok(HttpResponse::Ok().json(ListView {
            total_count: items.len(),
            has_more: false,
            next_page_token: None,
            items,
        }))
    })())
}

#[utoipa::path(
    get, path = "/api/v1/model_providers/{id}", tag = "agentstack",
    operation_id = "agentstackGetModelProvider",
    summary = "Get a model provider by its UUID",
    params(("id" = String, Path, description = "The provider's id, as a UUID")),
    responses(
        (status = 200, description = "The provider.", body = ProviderView),
        (status = 404, description = "No such provider.", body = ErrorBody),
        (status = 401, description = "No management credential as Basic.", body = ErrorBody),
    ),
    security(("basic" = []))
)]
pub(crate) async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let raw = req.match_info().get("id").unwrap_or_default();
    answer((|| {
        let id = types::from_uuid(raw).ok_or_else(|| not_found(raw))?;
        let store = state.registry.store();
        let p = store
            .get(id)
            .map_err(ApiError::from)?
            .ok_or_else(|| not_found(raw))?;
        let ext = store.extension(id).map_err(ApiError::from)?;
        Ok(HttpResponse::Ok().json(ProviderView::of(&p, &ext, &state.gateway)))
    })())
}

#[utoipa::path(
    post, path = "/api/v1/model_providers", tag = "agentstack",
    operation_id = "agentstackCreateModelProvider",
    summary = "Create a model provider (AgentStack's body), its api_key its first key",
    description = "The provider is probed with `api_key` first (its model list) and refused with \
        424 when the probe fails; `base_url` is unique among all providers (409). The provider \
        and the key `api_key` becomes are written in one transaction.",
    request_body(content = Object, description = "AgentStack's create body (seed 004)."),
    responses(
        (status = 201, description = "Created; durable before this answer.", body = ProviderView),
        (status = 409, description = "Another provider has this base_url.", body = ErrorBody),
        (status = 422, description = "Bad input, each field by AgentStack's name.", body = ErrorBody),
        (status = 424, description = "The probe with api_key failed.", body = ErrorBody),
        (status = 401, description = "No management credential as Basic.", body = ErrorBody),
    ),
    security(("basic" = []))
)]
pub(crate) async fn create(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(
        async {
            let input: Input<body::Body> = read_json(&req, payload, Empty::Refuse).await?;
            let mut v = input.violations;
            let t = body::translate(input.value, &mut v);
            if !v.is_empty() {
                return Err(Failure::from(ApiError::Validation(v)));
            }
            // Answered before the probe when it is plain; the create's transaction checks
            // again, so two creates racing cannot both pass.
            let wanted = same_base_url(&t.base_url);
            let taken = || {
                Failure::new(
                    StatusCode::CONFLICT,
                    format!("model_provider with base_url {} already exists", t.base_url),
                )
            };
            if all(&state)?.iter().any(|p| p.same_base_url() == wanted) {
                return Err(taken());
            }
            let ngrok: Input<CreateProvider> = parse(&t.ngrok)?;
            let key: Input<CreateProviderKey> = parse(&t.key)?;
            let gateway: &Gateway = &state.gateway;
            let check = |p: Provider, k: Option<crate::domain::ProviderKey>| async move {
                let Some(k) = k else { return Ok(()) };
                let probed = gateway.probe_record_with(&p, &k).await;
                match probed.check.ok {
                    true => Ok(()),
                    false => Err(std::collections::BTreeMap::from([(
                        "error".to_owned(),
                        probed.check.error.unwrap_or_else(|| "no model list".into()),
                    )])),
                }
            };
            let (p, ext) = state
                .registry
                .create_provider_extended(ngrok, t.extension, Some(key), true, &caller.id, check)
                .await
                .map_err(|e| match e {
                    WriteError::Refused(found) => Failure::new(
                        StatusCode::FAILED_DEPENDENCY,
                        format!(
                            "Failed to load models for {} provider: {}",
                            t.kind,
                            found.get("error").map_or("", String::as_str)
                        ),
                    ),
                    WriteError::Rejected(Rejection::BaseUrlTaken(_)) => taken(),
                    e => Failure::from(write_failed(&req, "provider", e)),
                })?;
            Ok(HttpResponse::Created().json(ProviderView::of(&p, &ext, &state.gateway)))
        }
        .await,
    )
}

fn parse<T: serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<Input<T>, Failure> {
    let bytes = zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(ApiError::internal)?);
    Ok(json::parse(&bytes)?)
}

#[utoipa::path(
    delete, path = "/api/v1/model_providers/{id}", tag = "agentstack",
    operation_id = "agentstackDeleteModelProvider",
    summary = "Delete a model provider and its keys, in one transaction",
    params(("id" = String, Path, description = "The provider's id, as a UUID")),
    responses(
        (status = 204, description = "Deleted; durable before this answer."),
        (status = 404, description = "No such provider.", body = ErrorBody),
        (status = 401, description = "No management credential as Basic.", body = ErrorBody),
    ),
    security(("basic" = []))
)]
pub(crate) async fn delete(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> HttpResponse {
    let raw = req.match_info().get("id").unwrap_or_default().to_owned();
    answer(
        async {
            let id = types::from_uuid(&raw).ok_or_else(|| not_found(&raw))?;
            state
                .registry
                .delete_provider(id, None, Some(caller.id.clone()))
                .await
                .map_err(|e| match e {
                    WriteError::Rejected(Rejection::NotFound) => not_found(&raw),
                    e => Failure::from(write_failed(&req, "provider", e)),
                })?;
            Ok(HttpResponse::NoContent().finish())
        }
        .await,
    )
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct MatchBody {
    suggested_models: Option<Vec<String>>,
    capability: Option<String>,
    score_cutoff: Option<f64>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AgentStackModelWithScore)]
struct Scored {
    model_id: String,
    score: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AgentStackModelMatches)]
pub(crate) struct Matches {
    items: Vec<Scored>,
    total_count: usize,
    has_more: bool,
    next_page_token: Option<String>,
}

#[utoipa::path(
    post, path = "/api/v1/model_providers/match", tag = "agentstack",
    operation_id = "agentstackMatchModels",
    summary = "Score the models of the providers with a capability against suggested names",
    description = "AgentStack's matching: every model a provider whose type has `capability` \
        declares, as `providerId:modelId` (the name a model call sends), scored by its \
        similarity to the closest of `suggested_models` (difflib's ratio); one above \
        `score_cutoff` (default 0.4) scores `0.5 + ratio / 2`; scores under 0.5 are left out.",
    request_body(content = Object, description = "`{suggested_models, capability, score_cutoff}`"),
    responses(
        (status = 200, description = "The matches, best first.", body = Matches),
        (status = 422, description = "Bad input.", body = ErrorBody),
        (status = 401, description = "No management credential as Basic.", body = ErrorBody),
    ),
    security(("basic" = []))
)]
pub(crate) async fn match_models(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(
        async {
            let input: Input<MatchBody> = read_json(&req, payload, Empty::Refuse).await?;
            let mut v = input.violations;
            let body = input.value;
            let capability = body.capability.unwrap_or_default();
            if !["llm", "embedding"].contains(&capability.as_str()) {
                v.add("capability", "must be `llm` or `embedding`");
            }
            let cutoff = body.score_cutoff.unwrap_or(0.4);
            if !(0.0..=1.0).contains(&cutoff) {
                v.add(
                    "score_cutoff",
                    format!("must be from 0 to 1 (got {cutoff})"),
                );
            }
            if !v.is_empty() {
                return Err(Failure::from(ApiError::Validation(v)));
            }
            let store = state.registry.store();
            let mut models = Vec::new();
            for p in all(&state)? {
                let ext = store.extension(p.id).map_err(ApiError::from)?;
                let format = p.surfaces.first().map_or("openai", |s| s.format.as_str());
                let kind = types::shown(ext.agentstack_type.as_deref(), format);
                if types::capabilities(kind).contains(&capability.as_str()) {
                    let slug = p.provider_id.as_str();
                    models.extend(p.models.iter().map(|m| format!("{slug}:{}", m.model_id)));
                }
            }
            let suggested = body.suggested_models.unwrap_or_default();
            let items: Vec<Scored> = matching::scores(&models, &suggested, cutoff)
                .into_iter()
                .map(|(model_id, score)| Scored { model_id, score })
                .collect();
            Ok(HttpResponse::Ok().json(Matches {
                total_count: items.len(),
                has_more: false,
                next_page_token: None,
                items,
            }))
        }
        .await,
    )
}
