//! `/provider-keys`: upstream credentials. `value` is accepted and never given back.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, middleware, web};
use serde::Serialize;
use ulid::Ulid;
use utoipa::ToSchema;

use crate::domain::{CreateProviderKey, Input, ProviderKey, RotateProviderKey, UpdateProviderKey};
use crate::gateway::policy::cooldown::Cause;
use crate::http::auth::{Caller, require_bearer};
use crate::http::body::{Empty, read_json};
use crate::http::conditional::{if_match, tagged};
use crate::http::error::ApiError;
use crate::http::paging::ListQuery;
use crate::http::query;
use crate::http::{
    AppState, Ref, docs, method_not_allowed, no_route, not_found, path_id, rfc3339, write_failed,
};
use crate::registry::WriteError;

const NOUN: &str = "provider key";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/provider-keys")
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
                web::resource("/{id}/rotate")
                    .route(web::post().to(rotate))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/{id}/test")
                    .route(web::post().to(super::probes::test_key))
                    .default_service(method_not_allowed("POST")),
            )
            .default_service(web::to(no_route)),
    );
}

#[utoipa::path(
    post, path = "/provider-keys", tag = "provider-keys", operation_id = "createProviderKey",
    summary = "Store a key for a provider",
    request_body = CreateProviderKey,
    responses(
        (status = 201, description = "Created; durable before this answer. The value is never \
            returned.", body = KeyView,
            headers(("ETag" = String, description = "Entity tag of this version"),
                    ("Location" = String, description = "URI of the new key"),
                    ("x-modelgate-warning" = String, description = "Present when the value is an `env.NAME` reference to a variable this server does not have set: the key is stored, but calls with it fail until the variable is set and the server restarted"))),
        (status = 409, response = docs::Conflict),
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
    query::none(&req)?;
    let input: Input<CreateProviderKey> = read_json(&req, body, Empty::Refuse).await?;
    let key = state
        .registry
        .create_key(input, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(warned(&key, HttpResponse::Created())
        .insert_header((header::LOCATION, state.uri(&key_path(key.id))))
        .insert_header((header::ETAG, key.etag()))
        .json(KeyView::new(&key, &state)))
}

#[utoipa::path(
    get, path = "/provider-keys", tag = "provider-keys", operation_id = "listProviderKeys",
    summary = "List provider keys, newest first",
    params(docs::Paging, docs::ProviderFilter),
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
    let query = ListQuery::parse(&req, true)?;
    let page =
        state
            .registry
            .store()
            .list_keys(query.provider.as_deref(), query.before, query.limit)?;
    let last = page.items.last().map(|k| k.id);
    Ok(HttpResponse::Ok().json(ListView {
        ai_gateway_provider_keys: page.items.iter().map(|k| KeyView::new(k, &state)).collect(),
        uri: state.uri("/provider-keys"),
        next_page_uri: query.next_page(&state, "/provider-keys", page.has_more, last),
    }))
}

#[utoipa::path(
    get, path = "/provider-keys/{id}", tag = "provider-keys", operation_id = "getProviderKey",
    summary = "Get a provider key (never its value)",
    params(docs::Id, docs::IfNoneMatch),
    responses(
        (status = 200, description = "The key.", body = KeyView,
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
    query::none(&req)?;
    let id = path_id(&req, NOUN)?;
    let key = state
        .registry
        .store()
        .get_key(id)?
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(tagged(&req, key.etag(), &KeyView::new(&key, &state)))
}

#[utoipa::path(
    patch, path = "/provider-keys/{id}", tag = "provider-keys", operation_id = "updateProviderKey",
    summary = "Change a key's name, description or metadata",
    description = "The value changes only by rotation. Fields left out keep their value; `null` \
        clears an optional field. An empty body changes nothing.",
    params(docs::Id, docs::IfMatch),
    request_body(content = UpdateProviderKey, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The key after the change; durable before this answer.",
            body = KeyView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 404, response = docs::NotFound),
        (status = 412, response = docs::PreconditionFailed),
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
    query::none(&req)?;
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    let input: Input<UpdateProviderKey> = read_json(&req, body, Empty::NoChange).await?;
    let outcome = state
        .registry
        .update_key(id, input, precondition, &caller.id)
        .await;
    written(&req, &state, outcome)
}

/// A new secret (and name) for the same key id.
#[utoipa::path(
    post, path = "/provider-keys/{id}/rotate", tag = "provider-keys",
    operation_id = "rotateProviderKey",
    summary = "Replace a key's value (and name), keeping its id",
    params(docs::Id, docs::IfMatch),
    request_body = RotateProviderKey,
    responses(
        (status = 200, description = "The key after rotation; durable before this answer.",
            body = KeyView,
            headers(("ETag" = String, description = "Entity tag of this version"),
                    ("x-modelgate-warning" = String, description = "Present when the value is an `env.NAME` reference to a variable this server does not have set: the key is stored, but calls with it fail until the variable is set and the server restarted"))),
        (status = 404, response = docs::NotFound),
        (status = 412, response = docs::PreconditionFailed),
        docs::BodyErrors,
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn rotate(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    let input: Input<RotateProviderKey> = read_json(&req, body, Empty::Refuse).await?;
    let outcome = state
        .registry
        .rotate_key(id, input, precondition, &caller.id)
        .await;
    written(&req, &state, outcome)
}

#[utoipa::path(
    delete, path = "/provider-keys/{id}", tag = "provider-keys", operation_id = "deleteProviderKey",
    summary = "Delete a provider key",
    params(docs::Id, docs::IfMatch, docs::CascadeRules),
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
        .delete_key(id, precondition, cascade)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The answer to a PATCH or a rotation.
fn written(
    req: &HttpRequest,
    state: &AppState,
    outcome: Result<ProviderKey, WriteError>,
) -> Result<HttpResponse, ApiError> {
    let key = outcome.map_err(|e| write_failed(req, NOUN, e))?;
    Ok(warned(&key, HttpResponse::Ok())
        .insert_header((header::ETAG, key.etag()))
        .json(KeyView::new(&key, state)))
}

/// The header that says an `env.NAME` key was stored but names a variable this server does
/// not have yet (ngrok's key shape is closed, so the warning is not a body field).
pub(crate) const WARNING_HEADER: &str = "x-modelgate-warning";

fn warned(key: &ProviderKey, mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    if let Some(var) = key.unset_variable() {
        response.insert_header((
            WARNING_HEADER,
            format!(
                "environment variable {var} is not set for this server; calls with this key \
                 fail until it is set and the server restarted"
            ),
        ));
    }
    response
}

fn key_path(id: Ulid) -> String {
    format!("/provider-keys/{id}")
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayProviderAPIKeyList)]
pub(crate) struct ListView<'a> {
    ai_gateway_provider_keys: Vec<KeyView<'a>>,
    uri: String,
    next_page_uri: Option<String>,
}

/// A key as the API shows it (ngrok's `AIGatewayProviderAPIKeyDetail`): never the value.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayProviderAPIKeyDetail)]
pub(crate) struct KeyView<'a> {
    id: String,
    uri: String,
    created_at: String,
    updated_at: String,
    provider_id: &'a str,
    name: &'a str,
    key_redacted: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
    created_by: Ref,
    last_updated_by: Ref,
    last_used: Option<String>,
    /// Bifrost's `weight`, only when set: the key's share of its provider's calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    weight: Option<f64>,
    /// Bifrost's `models`, only when set: the only models the key serves.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    models: &'a [String],
    /// modelgate's extension, only while the key rests: calls try it after the provider's
    /// other keys until `until`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    state: Option<KeyStateView>,
}

/// Why a provider key is tried last for now.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProviderKeyState)]
pub(crate) struct KeyStateView {
    /// `refused`: the upstream refused the key (401, 402 or 403); `resting`: it rate-limited
    /// the key (429).
    status: KeyStatus,
    /// When the rest ends, unless the upstream refuses the key again.
    #[schema(format = DateTime)]
    until: String,
    /// In words, with the upstream's status.
    reason: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(as = ProviderKeyStatus)]
enum KeyStatus {
    Refused,
    Resting,
}

impl KeyStateView {
    fn of(key: &ProviderKey, state: &AppState) -> Option<KeyStateView> {
        let (rest, until_ms) = state.gateway.key_rest(key.id, key.version)?;
        let (status, reason) = match rest.cause {
            Cause::Refused(code) => (
                KeyStatus::Refused,
                format!("the upstream refused this key ({code})"),
            ),
            Cause::RateLimited => (
                KeyStatus::Resting,
                "the upstream rate-limited this key (429)".to_owned(),
            ),
        };
        Some(KeyStateView {
            status,
            until: rfc3339(until_ms),
            reason,
        })
    }
}

impl<'a> KeyView<'a> {
    fn new(k: &'a ProviderKey, state: &AppState) -> KeyView<'a> {
        KeyView {
            id: k.id.to_string(),
            uri: state.uri(&key_path(k.id)),
            created_at: rfc3339(k.created_at_ms),
            updated_at: rfc3339(k.updated_at_ms),
            provider_id: k.provider_id.as_str(),
            name: &k.name,
            key_redacted: &k.key_redacted,
            description: k.description.as_deref(),
            metadata: k.metadata.as_deref(),
            created_by: state.credential(&k.created_by),
            last_updated_by: state.credential(&k.last_updated_by),
            last_used: k.last_used_ms.map(rfc3339),
            weight: k.routing.weight,
            models: &k.routing.models,
            state: KeyStateView::of(k, state),
        }
    }
}
