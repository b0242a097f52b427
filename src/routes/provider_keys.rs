//! `/provider-keys`: upstream credentials. `value` is accepted and never given back.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use ulid::Ulid;
use utoipa::ToSchema;

use super::{
    AppState, ListQuery, Ref, doc, guard, if_match, method_not_allowed, no_route, not_found,
    path_id, rejected, rfc3339, tagged,
};
use crate::auth::{Caller, require_bearer};
use crate::body::{Empty, read_json};
use crate::domain::{
    CreateProviderKey, NewProviderKey, ProviderKey, ProviderKeyChanges, RotateProviderKey,
    Rotation, UpdateProviderKey, now_ms,
};
use crate::error::ApiError;
use crate::store::Rejection;

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
                    ("Location" = String, description = "URI of the new key"))),
        (status = 409, response = doc::Conflict),
        doc::BodyErrors,
        doc::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let input: CreateProviderKey = read_json(&req, body, Empty::Refuse).await?;
    let new = NewProviderKey::parse(input)?;
    let needs_provider = new.needs_custom_provider();
    let slug = new.provider_id.as_str().to_owned();
    let outcome = state
        .write_keys(move |store, master| {
            let key = new.into_key(master, now_ms(), &caller.id)?;
            Ok(store
                .create_key(&key, needs_provider)?
                .map(|w| w.map(|()| key)))
        })
        .await?;
    match outcome {
        Ok(key) => Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, state.uri(&key_path(key.id))))
            .insert_header((header::ETAG, key.etag()))
            .json(KeyView::new(&key, &state))),
        // 409, not 400: the body is well formed; the registry lacks what it names, and
        // registering that provider lets the same request succeed.
        Err(Rejection::UnknownProvider) => Err(ApiError::UnknownProvider(slug)),
        Err(rejection) => Err(rejected(&req, NOUN, rejection)),
    }
}

#[utoipa::path(
    get, path = "/provider-keys", tag = "provider-keys", operation_id = "listProviderKeys",
    summary = "List provider keys, newest first",
    params(doc::Paging, doc::ProviderFilter),
    responses(
        (status = 200, description = "One page.", body = ListView),
        (status = 400, response = doc::BadQuery),
        doc::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(req.query_string())?;
    let page = state
        .read_keys(|store| store.list_keys(query.provider.as_deref(), query.before, query.limit))?;
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
    params(doc::Id, doc::IfNoneMatch),
    responses(
        (status = 200, description = "The key.", body = KeyView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 304, response = doc::NotModified),
        (status = 404, response = doc::NotFound),
        doc::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, NOUN)?;
    let key = state
        .read_keys(|store| store.get_key(id))?
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(tagged(&req, key.etag(), &KeyView::new(&key, &state)))
}

#[utoipa::path(
    patch, path = "/provider-keys/{id}", tag = "provider-keys", operation_id = "updateProviderKey",
    summary = "Change a key's name, description or metadata",
    description = "The value changes only by rotation. Fields left out keep their value; `null` \
        clears an optional field. An empty body changes nothing.",
    params(doc::Id, doc::IfMatch),
    request_body(content = UpdateProviderKey, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The key after the change; durable before this answer.",
            body = KeyView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 404, response = doc::NotFound),
        (status = 412, response = doc::PreconditionFailed),
        doc::BodyErrors,
        doc::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers());
    let input: UpdateProviderKey = read_json(&req, body, Empty::NoChange).await?;
    let changes = ProviderKeyChanges::parse(input)?;
    let outcome = state
        .write_keys(move |store, _| {
            Ok(store.update_key(id, &|current| {
                guard(precondition.as_ref(), &current.etag())?;
                Ok(changes.apply(current, now_ms(), &caller.id))
            })?)
        })
        .await?;
    written(&req, &state, outcome)
}

/// A new secret (and name) for the same key id.
#[utoipa::path(
    post, path = "/provider-keys/{id}/rotate", tag = "provider-keys",
    operation_id = "rotateProviderKey",
    summary = "Replace a key's value (and name), keeping its id",
    params(doc::Id, doc::IfMatch),
    request_body = RotateProviderKey,
    responses(
        (status = 200, description = "The key after rotation; durable before this answer.",
            body = KeyView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 404, response = doc::NotFound),
        (status = 412, response = doc::PreconditionFailed),
        doc::BodyErrors,
        doc::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn rotate(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers());
    let input: RotateProviderKey = read_json(&req, body, Empty::Refuse).await?;
    let rotation = Rotation::parse(input)?;
    let outcome = state
        .write_keys(move |store, master| {
            let value = rotation.seal(master, id)?;
            Ok(store.update_key(id, &|current| {
                guard(precondition.as_ref(), &current.etag())?;
                Ok(Some(rotation.apply(&value, current, now_ms(), &caller.id)))
            })?)
        })
        .await?;
    written(&req, &state, outcome)
}

#[utoipa::path(
    delete, path = "/provider-keys/{id}", tag = "provider-keys", operation_id = "deleteProviderKey",
    summary = "Delete a provider key",
    params(doc::Id, doc::IfMatch),
    responses(
        (status = 204, description = "Deleted; durable before this answer."),
        (status = 404, response = doc::NotFound),
        (status = 412, response = doc::PreconditionFailed),
        doc::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers());
    let outcome = state
        .write_keys(move |store, _| Ok(store.delete_key(id, precondition.as_ref())?))
        .await?;
    match outcome {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(rejection) => Err(rejected(&req, NOUN, rejection)),
    }
}

/// The answer to a PATCH or a rotation.
fn written(
    req: &HttpRequest,
    state: &AppState,
    outcome: Result<ProviderKey, Rejection>,
) -> Result<HttpResponse, ApiError> {
    match outcome {
        Ok(key) => Ok(HttpResponse::Ok()
            .insert_header((header::ETAG, key.etag()))
            .json(KeyView::new(&key, state))),
        Err(rejection) => Err(rejected(req, NOUN, rejection)),
    }
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
        }
    }
}
