//! `/api-keys`: the credentials that call this server, in ngrok's `AIGatewayAPIKey` shape, so
//! that the `createdBy` and `lastUpdatedBy` of every record name something that answers. For
//! now these are the bootstrap credentials — the admin token and each `[[auth.tokens]]` entry
//! — which the environment and the config file set; here they are read-only, and show neither
//! their token nor its digest.

use std::time::UNIX_EPOCH;

use actix_web::{HttpRequest, HttpResponse, ResponseError, middleware, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{self, ADMIN_ID, Credentials};
use crate::domain::Violations;
use crate::http::auth::require_bearer;
use crate::http::docs::{self, CREDENTIAL_ID_PATTERN};
use crate::http::error::ApiError;
use crate::http::paging::page_limit;
use crate::http::query;
use crate::http::{AppState, Ref, no_route, not_found, rfc3339};

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
                    .default_service(read_only()),
            )
            .service(
                web::resource("/{id}")
                    .route(web::get().to(get))
                    .route(web::head().to(get))
                    .default_service(read_only()),
            )
            .default_service(web::to(no_route)),
    );
}

/// Creating, changing or deleting one: 405, saying where these credentials are changed.
fn read_only() -> actix_web::Route {
    web::to(|| async { ApiError::CredentialsReadOnly.error_response() })
}

#[utoipa::path(
    get, path = "/api-keys", tag = "api-keys", operation_id = "listApiKeys",
    summary = "List the credentials that call this server, by id, descending",
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
    let mut ids: Vec<&str> = credentials.ids().collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let after_cursor = ids
        .into_iter()
        .filter(|id| before.as_deref().is_none_or(|b| *id < b));
    let mut page: Vec<&str> = after_cursor.take(limit + 1).collect();
    let has_more = page.len() > limit;
    page.truncate(limit);
    let next_page_uri = page.last().filter(|_| has_more).map(|last| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("beforeId", last)
            .append_pair("limit", &limit.to_string())
            .finish();
        state.uri(&format!("/api-keys?{query}"))
    });
    Ok(HttpResponse::Ok().json(ListView {
        ai_gateway_api_keys: page
            .into_iter()
            .map(|id| ApiKeyView::new(id, &credentials, &state))
            .collect(),
        uri: state.uri("/api-keys"),
        next_page_uri,
    }))
}

#[utoipa::path(
    get, path = "/api-keys/{id}", tag = "api-keys", operation_id = "getApiKey",
    summary = "Get a credential that calls this server",
    params(docs::CredentialId),
    responses(
        (status = 200, description = "The credential, its token redacted.", body = ApiKeyView),
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
    let id = credentials
        .ids()
        .find(|id| *id == wanted)
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(HttpResponse::Ok().json(ApiKeyView::new(id, &credentials, &state)))
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
pub(crate) struct ListView {
    ai_gateway_api_keys: Vec<ApiKeyView>,
    uri: String,
    next_page_uri: Option<String>,
}

/// A credential as the API shows it (ngrok's `AIGatewayAPIKey`). It has been in force since
/// the server started, and made itself.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayAPIKey)]
pub(crate) struct ApiKeyView {
    id: String,
    uri: String,
    name: String,
    description: &'static str,
    created_at: String,
    updated_at: String,
    created_by: Ref,
    last_updated_by: Ref,
    /// Always `********`: neither the token nor its digest is ever shown.
    #[schema(value_type = String, pattern = r"^\*{8}$")]
    key_redacted: &'static str,
}

impl ApiKeyView {
    fn new(id: &str, credentials: &Credentials, state: &AppState) -> ApiKeyView {
        let since = credentials
            .loaded_at()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        ApiKeyView {
            id: id.to_owned(),
            uri: state.credential(id).uri,
            name: id.to_owned(),
            description: match id {
                ADMIN_ID => "The admin token: MODELGATE_ADMIN_TOKEN, else <data_dir>/admin-token.",
                _ => "An [[auth.tokens]] entry of the config file, kept as its SHA-256 digest.",
            },
            created_at: rfc3339(since),
            updated_at: rfc3339(since),
            created_by: state.credential(id),
            last_updated_by: state.credential(id),
            key_redacted: REDACTED,
        }
    }
}
