//! `/access-keys`: data-plane credentials in ngrok's `AIGatewayAccessKey` shape. The `token`
//! (`mga_…`) is answered once, on create; only its digest is kept. An access key makes model
//! calls on `/v1` and nothing else: every management route refuses it (`http/auth`).
//! modelgate's `expiresAt`, `disabled` and limits (`requestsPerMinute`, `tokensPerMinute`,
//! `budget`) show only when set.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use ulid::Ulid;
use utoipa::ToSchema;

use super::access_key_configurations::configuration_path;
use crate::domain::budget::BudgetView;
use crate::domain::{AccessKey, CreateAccessKey, Input, RotateAccessKey, UpdateAccessKey};
use crate::http::auth::{Caller, require_bearer};
use crate::http::body::{Empty, read_json};
use crate::http::conditional::{if_match, tagged};
use crate::http::error::ApiError;
use crate::http::paging::ListQuery;
use crate::http::query;
use crate::http::{
    AppState, Ref, docs, method_not_allowed, no_route, not_found, path_id, rfc3339, write_failed,
};

const NOUN: &str = "access key";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/access-keys")
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
    post, path = "/access-keys", tag = "access-keys", operation_id = "createAccessKey",
    summary = "Create a data-plane access key",
    description = "The answer carries the key's `token` (`mga_` and 256 random bits): it is \
        shown this once and kept only as its SHA-256 digest. The key makes model calls on `/v1` \
        from the next request on; the management API refuses it (403).",
    request_body = CreateAccessKey,
    responses(
        (status = 201, description = "Created; durable before this answer. The only answer \
            with the `token`.", body = AccessKeyView,
            headers(("ETag" = String, description = "Entity tag of this version"),
                    ("Location" = String, description = "URI of the new key"))),
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
    let input: Input<CreateAccessKey> = read_json(&req, body, Empty::Refuse).await?;
    let (key, token) = state
        .registry
        .create_access_key(input, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    let mut view = AccessKeyView::new(&key, &state)?;
    view.token = Some(token.as_str());
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, view.uri.clone()))
        .insert_header((header::ETAG, key.etag()))
        .json(view))
}

#[utoipa::path(
    get, path = "/access-keys", tag = "access-keys", operation_id = "listAccessKeys",
    summary = "List access keys, newest first",
    params(docs::Paging),
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
    let query = ListQuery::parse(&req, false)?;
    let page = state
        .registry
        .store()
        .list_access_keys(query.before, query.limit)?;
    let last = page.items.last().map(|k| k.id);
    Ok(HttpResponse::Ok().json(ListView {
        ai_gateway_access_keys: page
            .items
            .iter()
            .map(|k| AccessKeyView::new(k, &state))
            .collect::<Result<_, _>>()?,
        uri: state.uri("/access-keys"),
        next_page_uri: query.next_page(&state, "/access-keys", page.has_more, last),
    }))
}

#[utoipa::path(
    get, path = "/access-keys/{id}", tag = "access-keys", operation_id = "getAccessKey",
    summary = "Get an access key (never its token)",
    params(docs::Id, docs::IfNoneMatch),
    responses(
        (status = 200, description = "The key.", body = AccessKeyView,
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
        .get_access_key(id)?
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(tagged(&req, key.etag(), &AccessKeyView::new(&key, &state)?))
}

#[utoipa::path(
    patch, path = "/access-keys/{id}", tag = "access-keys", operation_id = "updateAccessKey",
    summary = "Change an access key",
    description = "Fields left out keep their value; `null` clears one. An empty body changes \
        nothing. The token never changes. `disabled: true` refuses the key from the next call \
        on without deleting it.",
    params(docs::Id, docs::IfMatch),
    request_body(content = UpdateAccessKey, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The key after the change; durable before this answer.",
            body = AccessKeyView,
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
    let input: Input<UpdateAccessKey> = read_json(&req, body, Empty::NoChange).await?;
    let key = state
        .registry
        .update_access_key(id, input, precondition, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, key.etag()))
        .json(AccessKeyView::new(&key, &state)?))
}

#[utoipa::path(
    delete, path = "/access-keys/{id}", tag = "access-keys", operation_id = "deleteAccessKey",
    summary = "Delete an access key: its token is refused from the next call on",
    params(docs::Id, docs::IfMatch),
    responses(
        (status = 204, description = "Deleted; durable before this answer."),
        (status = 404, response = docs::NotFound),
        (status = 412, response = docs::PreconditionFailed),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    state
        .registry
        .delete_access_key(id, precondition)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// modelgate's: a new token under the same id.
#[utoipa::path(
    post, path = "/access-keys/{id}/rotate", tag = "access-keys",
    operation_id = "rotateAccessKey",
    summary = "Give an access key a new token, keeping its id",
    description = "The answer carries the new `token`, shown this once. The old token keeps \
        working for `graceSeconds` (0, the default, to 86400), judged from now, then is \
        refused; a token an earlier rotation left in its grace is refused at once.",
    params(docs::Id, docs::IfMatch),
    request_body(content = RotateAccessKey, content_type = "application/json",
        description = "Optional: no body is a rotation without grace."),
    responses(
        (status = 200, description = "The key with its new token; durable before this answer.",
            body = AccessKeyView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
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
    let input: Input<RotateAccessKey> = read_json(&req, body, Empty::NoChange).await?;
    let (key, token) = state
        .registry
        .rotate_access_key(id, input, precondition, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    let mut view = AccessKeyView::new(&key, &state)?;
    view.token = Some(token.as_str());
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, key.etag()))
        .json(view))
}

fn key_path(id: Ulid) -> String {
    format!("/access-keys/{id}")
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayAccessKeyList)]
pub(crate) struct ListView<'a> {
    ai_gateway_access_keys: Vec<AccessKeyView<'a>>,
    uri: String,
    next_page_uri: Option<String>,
}

/// The configuration an access key is scoped by (ngrok's `{id, uri, name}`).
#[derive(Serialize, ToSchema)]
pub(crate) struct ConfigurationRef {
    id: String,
    uri: String,
    name: String,
}

/// An access key as the API shows it (ngrok's `AIGatewayAccessKey`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayAccessKey)]
pub(crate) struct AccessKeyView<'a> {
    id: String,
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
    created_by: Ref,
    last_updated_by: Ref,
    /// The token, in the answer to the create (or a rotation) only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, pattern = "^mga_[A-Za-z0-9_-]{43}$")]
    token: Option<&'a str>,
    /// The token's prefix and its last four characters.
    #[schema(pattern = "^mga_…[A-Za-z0-9_-]{4}$")]
    key_redacted: &'a str,
    #[schema(format = DateTime)]
    last_used: Option<String>,
    /// `null`: allow-all scope.
    access_key_configuration: Option<ConfigurationRef>,
    /// modelgate's: when the key stops working; shown only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: Option<String>,
    /// modelgate's: `true` when the key is refused without being deleted; shown only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool)]
    disabled: Option<bool>,
    /// modelgate's: model calls allowed per minute; shown only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u32, minimum = 1, maximum = 1000000)]
    requests_per_minute: Option<u32>,
    /// modelgate's: input and output tokens allowed per minute; shown only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u32, minimum = 1, maximum = 1000000000)]
    tokens_per_minute: Option<u32>,
    /// modelgate's: what the key may spend per UTC day or month; shown only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = BudgetView)]
    budget: Option<BudgetView>,
}

impl<'a> AccessKeyView<'a> {
    /// The key's view, with its configuration's `{id, uri, name}` read from the store.
    fn new(key: &'a AccessKey, state: &AppState) -> Result<AccessKeyView<'a>, ApiError> {
        let access_key_configuration = match key.configuration {
            None => None,
            Some(id) => Some(ConfigurationRef {
                id: id.to_string(),
                uri: state.uri(&configuration_path(id)),
                // A configuration is never deleted while a key names it (the store's
                // transaction); a read racing that delete and its keys shows no name.
                name: state
                    .registry
                    .store()
                    .get_configuration(id)?
                    .map(|c| c.name)
                    .unwrap_or_default(),
            }),
        };
        Ok(AccessKeyView {
            id: key.id.to_string(),
            uri: state.uri(&key_path(key.id)),
            name: key.name.as_deref(),
            description: key.description.as_deref(),
            metadata: key.metadata.as_deref(),
            created_at: rfc3339(key.created_at_ms),
            updated_at: rfc3339(key.updated_at_ms),
            created_by: state.credential(&key.created_by),
            last_updated_by: state.credential(&key.last_updated_by),
            token: None,
            key_redacted: &key.key_redacted,
            last_used: key.last_used_ms.map(rfc3339),
            access_key_configuration,
            expires_at: key.expires_at_ms.map(rfc3339),
            disabled: key.disabled,
            requests_per_minute: key.requests_per_minute,
            tokens_per_minute: key.tokens_per_minute,
            budget: key.budget.map(BudgetView::from),
        })
    }
}
