//! `/api-keys`: the credentials that call the management API, in ngrok's `AIGatewayAPIKey`
//! shape. Two kinds answer here: stored keys, made with `POST /api-keys` (their `token` shown
//! once, in that answer; only its digest is kept), and the bootstrap credentials — the admin
//! token and each `[[auth.tokens]]` entry — which the environment and the config file set and
//! which are read-only here. Every `createdBy` and `lastUpdatedBy` names one of them.

use std::time::UNIX_EPOCH;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, middleware, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{self, ADMIN_ID, Credentials};
use crate::domain::{ApiKey, CreateApiKey, Input, UpdateApiKey, Violations, parse_id};
use crate::http::auth::{Caller, require_bearer};
use crate::http::body::{Empty, read_json};
use crate::http::conditional::{if_match, tagged};
use crate::http::docs::{self, CREDENTIAL_ID_PATTERN};
use crate::http::error::ApiError;
use crate::http::paging::page_limit;
use crate::http::query;
use crate::http::{AppState, Ref, method_not_allowed, no_route, not_found, rfc3339, write_failed};
use crate::store::Store;

const NOUN: &str = "API key";
/// A bootstrap credential's token is never shown, not even in part.
const REDACTED: &str = "********";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api-keys")
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
                    .default_service(web::to(other_method)),
            )
            .default_service(web::to(no_route)),
    );
}

/// A bootstrap credential takes only reads (405 saying where it is changed); a stored key
/// takes what its resource serves.
async fn other_method(req: HttpRequest, credentials: web::Data<Credentials>) -> HttpResponse {
    bootstrap_refusal(&req, &credentials).map_or_else(
        || {
            ApiError::MethodNotAllowed {
                allow: "GET, HEAD, PATCH, DELETE",
            }
            .error_response()
        },
        |e| e.error_response(),
    )
}

fn bootstrap_refusal(req: &HttpRequest, credentials: &Credentials) -> Option<ApiError> {
    let id = req.match_info().get("id").unwrap_or_default();
    credentials
        .is_bootstrap(id)
        .then_some(ApiError::CredentialsReadOnly)
}

#[utoipa::path(
    post, path = "/api-keys", tag = "api-keys", operation_id = "createApiKey",
    summary = "Create a management API key",
    description = "The answer carries the key's `token` (`mgk_` and 256 random bits): it is \
        shown this once and kept only as its SHA-256 digest. The key authenticates from the \
        next request on, on the management API and the data plane alike.",
    request_body = CreateApiKey,
    responses(
        (status = 201, description = "Created; durable before this answer. The only answer \
            with the `token`.", body = ApiKeyView,
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
    let input: Input<CreateApiKey> = read_json(&req, body, Empty::Refuse).await?;
    let (key, token) = state
        .registry
        .create_api_key(input, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    let mut view = ApiKeyView::stored(&key, &state);
    view.token = Some(token.as_str());
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, view.uri.clone()))
        .insert_header((header::ETAG, key.etag()))
        .json(view))
}

#[utoipa::path(
    get, path = "/api-keys", tag = "api-keys", operation_id = "listApiKeys",
    summary = "List the credentials that call this server, by id, descending",
    description = "Stored keys and the bootstrap credentials together, ordered by id.",
    params(docs::CredentialPaging),
    responses(
        (status = 200, description = "One page.", body = ListView),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    credentials: web::Data<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let (before, limit) = paging(&req)?;
    let mut page: Vec<Listed> = credentials
        .ids()
        .filter(|id| before.as_deref().is_none_or(|b| *id < b))
        .map(|id| Listed::Bootstrap(id.to_owned()))
        .chain(
            stored_before(state.registry.store(), before.as_deref(), limit + 1)?
                .into_iter()
                .map(|key| Listed::Stored(Box::new(key))),
        )
        .collect();
    page.sort_unstable_by_key(|item| std::cmp::Reverse(item.id()));
    let has_more = page.len() > limit;
    page.truncate(limit);
    let next_page_uri = page.last().filter(|_| has_more).map(|last| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("beforeId", &last.id())
            .append_pair("limit", &limit.to_string())
            .finish();
        state.uri(&format!("/api-keys?{query}"))
    });
    Ok(HttpResponse::Ok().json(ListView {
        ai_gateway_api_keys: page
            .iter()
            .map(|item| match item {
                Listed::Bootstrap(id) => ApiKeyView::bootstrap(id, &credentials, &state),
                Listed::Stored(key) => ApiKeyView::stored(key, &state),
            })
            .collect(),
        uri: state.uri("/api-keys"),
        next_page_uri,
    }))
}

enum Listed {
    Bootstrap(String),
    Stored(Box<ApiKey>),
}

impl Listed {
    fn id(&self) -> String {
        match self {
            Listed::Bootstrap(id) => id.clone(),
            Listed::Stored(key) => key.id.to_string(),
        }
    }
}

/// Up to `want` stored keys whose ids come before `before` in the text order every id of this
/// list is ordered by. A ULID's text sorts as the ULID does, so a ULID cursor bounds the
/// store's range; any other cursor is compared as text, page by page.
fn stored_before(
    store: &dyn Store,
    before: Option<&str>,
    want: usize,
) -> Result<Vec<ApiKey>, ApiError> {
    let mut cursor = before.and_then(parse_id);
    let mut found = Vec::new();
    loop {
        let page = store.list_api_keys(cursor, want)?;
        cursor = page.items.last().map(|k| k.id);
        found.extend(
            page.items
                .into_iter()
                .filter(|k| before.is_none_or(|b| k.id.to_string().as_str() < b)),
        );
        if found.len() >= want || !page.has_more {
            found.truncate(want);
            return Ok(found);
        }
    }
}

#[utoipa::path(
    get, path = "/api-keys/{id}", tag = "api-keys", operation_id = "getApiKey",
    summary = "Get a credential that calls this server (never its token)",
    params(docs::CredentialId, docs::IfNoneMatch),
    responses(
        (status = 200, description = "The credential, its token redacted.", body = ApiKeyView,
            headers(("ETag" = String, description = "Entity tag of this version (stored keys)"))),
        (status = 304, response = docs::NotModified),
        (status = 404, response = docs::NotFound),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    credentials: web::Data<Credentials>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let wanted = req.match_info().get("id").unwrap_or_default();
    if credentials.is_bootstrap(wanted) {
        return Ok(HttpResponse::Ok().json(ApiKeyView::bootstrap(wanted, &credentials, &state)));
    }
    let key = parse_id(wanted)
        .map(|id| state.registry.store().get_api_key(id))
        .transpose()?
        .flatten()
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(tagged(&req, key.etag(), &ApiKeyView::stored(&key, &state)))
}

#[utoipa::path(
    patch, path = "/api-keys/{id}", tag = "api-keys", operation_id = "updateApiKey",
    summary = "Change a stored key's name, description or metadata",
    description = "Fields left out keep their value; `null` clears one. An empty body changes \
        nothing. The token never changes. A bootstrap credential is read-only: 405.",
    params(docs::CredentialId, docs::IfMatch),
    request_body(content = UpdateApiKey, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The key after the change; durable before this answer.",
            body = ApiKeyView,
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
    credentials: web::Data<Credentials>,
) -> Result<HttpResponse, ApiError> {
    if let Some(refusal) = bootstrap_refusal(&req, &credentials) {
        return Err(refusal);
    }
    query::none(&req)?;
    let id = crate::http::path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    let input: Input<UpdateApiKey> = read_json(&req, body, Empty::NoChange).await?;
    let key = state
        .registry
        .update_api_key(id, input, precondition, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, key.etag()))
        .json(ApiKeyView::stored(&key, &state)))
}

#[utoipa::path(
    delete, path = "/api-keys/{id}", tag = "api-keys", operation_id = "deleteApiKey",
    summary = "Delete a stored key: its token is refused from the next request on",
    description = "A bootstrap credential cannot be deleted here: 405.",
    params(docs::CredentialId, docs::IfMatch),
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
    credentials: web::Data<Credentials>,
) -> Result<HttpResponse, ApiError> {
    if let Some(refusal) = bootstrap_refusal(&req, &credentials) {
        return Err(refusal);
    }
    query::none(&req)?;
    let id = crate::http::path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    state
        .registry
        .delete_api_key(id, precondition)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::NoContent().finish())
}

/// `beforeId` (a credential id) and `limit`, every problem with them at once.
fn paging(req: &HttpRequest) -> Result<(Option<String>, usize), ApiError> {
    let mut found = query::params(req, &["limit", "beforeId"])?;
    let mut v = Violations::default();
    let limit = page_limit(found.remove("limit"), &mut v);
    let before = found.remove("beforeId").and_then(|raw| {
        v.check(
            "beforeId",
            auth::is_credential_id(&raw).then_some(raw).ok_or_else(|| {
                format!("must be an API key id: 1-64 letters, digits, `.`, `_` or `-` ({CREDENTIAL_ID_PATTERN})")
            }),
        )
    });
    match v.is_empty() {
        true => Ok((before, limit)),
        false => Err(ApiError::InvalidQuery(v)),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayAPIKeyList)]
pub(crate) struct ListView<'a> {
    ai_gateway_api_keys: Vec<ApiKeyView<'a>>,
    uri: String,
    next_page_uri: Option<String>,
}

/// A credential as the API shows it (ngrok's `AIGatewayAPIKey`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayAPIKey)]
pub(crate) struct ApiKeyView<'a> {
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
    /// The token, in the answer to the create only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, pattern = "^mgk_[A-Za-z0-9_-]{43}$")]
    token: Option<&'a str>,
    /// A stored key's: its prefix and last four characters. A bootstrap credential's: eight
    /// stars; neither the token nor its digest is ever shown.
    #[schema(value_type = String, pattern = r"^(\*{8}|mgk_…[A-Za-z0-9_-]{4})$")]
    key_redacted: &'a str,
    /// A stored key's last use (written about once a second); not shown for a bootstrap one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used: Option<Option<String>>,
}

impl<'a> ApiKeyView<'a> {
    /// A bootstrap credential: in force since the server started, and made by itself.
    fn bootstrap(id: &'a str, credentials: &Credentials, state: &AppState) -> ApiKeyView<'a> {
        let since = credentials
            .loaded_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        ApiKeyView {
            id: id.to_owned(),
            uri: state.credential(id).uri,
            name: Some(id),
            description: Some(match id {
                ADMIN_ID => "The admin token: MODELGATE_ADMIN_TOKEN, else <data_dir>/admin-token.",
                _ => "An [[auth.tokens]] entry of the config file, kept as its SHA-256 digest.",
            }),
            metadata: None,
            created_at: rfc3339(since),
            updated_at: rfc3339(since),
            created_by: state.credential(id),
            last_updated_by: state.credential(id),
            token: None,
            key_redacted: REDACTED,
            last_used: None,
        }
    }

    fn stored(key: &'a ApiKey, state: &AppState) -> ApiKeyView<'a> {
        let id = key.id.to_string();
        ApiKeyView {
            uri: state.credential(&id).uri,
            id,
            name: key.name.as_deref(),
            description: key.description.as_deref(),
            metadata: key.metadata.as_deref(),
            created_at: rfc3339(key.created_at_ms),
            updated_at: rfc3339(key.updated_at_ms),
            created_by: state.credential(&key.created_by),
            last_updated_by: state.credential(&key.last_updated_by),
            token: None,
            key_redacted: &key.key_redacted,
            last_used: Some(key.last_used_ms.map(rfc3339)),
        }
    }
}
