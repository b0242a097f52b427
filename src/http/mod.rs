//! Everything HTTP: the shared state, error rendering, bodies, bearer auth, conditional
//! requests, paging, the OpenAPI document, the admin page, and one module per management
//! resource under `manage/`. Knows no storage engine: it talks to the registry, and reads
//! through the store traits.

pub mod admin;
pub mod auth;
pub mod body;
mod conditional;
pub(crate) mod dialects;
mod docs;
pub mod error;
mod json;
pub mod limits;
mod manage;
pub mod metrics;
pub mod openapi;
mod openapi_dataplane;
mod paging;
pub mod proxy;
mod query;
pub mod request_id;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use ulid::Ulid;

use crate::domain::InputError;
use crate::gateway::Gateway;
use crate::registry::{Registry, WriteError};
use crate::store::Rejection;
use error::ApiError;

pub use paging::MAX_PAGE;

/// What every handler shares.
pub struct AppState {
    pub registry: Arc<Registry>,
    pub gateway: Arc<Gateway>,
    /// Where a stored API key's use is noted, for its batched `lastUsed`.
    pub uses: Arc<crate::gateway::usage::KeyUse>,
    /// Each access key's `requestsPerMinute`, counted.
    pub per_minute: Arc<crate::gateway::policy::per_minute::PerMinute>,
    /// What each access key spent this day and month and used this minute, for its `budget`
    /// and `tokensPerMinute`.
    pub spend: Arc<crate::gateway::meter::spend::Spend>,
    /// Prefix of returned URIs: the configured public URL, or empty for path-only URIs.
    pub public_url: String,
    /// `gateway.require_access_keys`: the data plane refuses every other credential.
    pub require_access_keys: bool,
    /// Where `/usage` reads the data plane's usage events.
    pub usage: Arc<dyn crate::store::usage::UsageStore>,
    /// What `/metrics` shows, and where HTTP answers and refusals are counted.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    pub fn uri(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// `{id, uri}` of the credential that made a change.
    fn credential(&self, id: &str) -> Ref {
        Ref {
            id: id.to_owned(),
            uri: self.uri(&format!("/api-keys/{id}")),
        }
    }
}

/// Every route. `cors`: whether `gateway.cors_origins` names any origin; without one the data
/// plane's CORS layer is left out, not merely idle, as a layer costs every call.
pub fn configure(cfg: &mut web::ServiceConfig, cors: bool) {
    proxy::configure(cfg, cors);
    manage::configure(cfg);
    dialects::configure(cfg);
    openapi::configure(cfg);
    metrics::configure(cfg);
    admin::configure(cfg);
}

/// The JSON 404 for every path no route claims.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        truncated(req.path(), 200)
    ))
    .error_response()
}

/// A resource's answer to a method it does not serve.
pub(crate) fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move { ApiError::MethodNotAllowed { allow }.error_response() })
}

/// Client-supplied text quoted in a message, cut so a huge path cannot bloat the answer.
pub(crate) fn truncated(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The `{id}` of the path. An id not in its one spelling names nothing: a 404 like any
/// unknown id.
fn path_id(req: &HttpRequest, noun: &str) -> Result<Ulid, ApiError> {
    let raw = req.match_info().get("id").unwrap_or_default();
    crate::domain::parse_id(raw).ok_or_else(|| not_found(req, noun))
}

fn not_found(req: &HttpRequest, noun: &str) -> ApiError {
    let raw = req.match_info().get("id").unwrap_or_default();
    ApiError::NotFound(format!("no {noun} with id `{}`", truncated(raw, 64)))
}

/// The API error for a registry write on the resource `noun` that did not happen.
fn write_failed(req: &HttpRequest, noun: &str, error: WriteError) -> ApiError {
    match error {
        WriteError::Rejected(rejection) => match rejection {
            Rejection::NotFound => not_found(req, noun),
            Rejection::PreconditionFailed => ApiError::PreconditionFailed,
            Rejection::HasKeys(count) => ApiError::ProviderHasKeys(count),
            Rejection::InUse(count) => ApiError::ConfigurationInUse(count),
            Rejection::KeyInUse(ids) => ApiError::ProviderKeyInUse(ids),
            Rejection::ProviderIdTaken(slug) => ApiError::ProviderIdTaken(slug),
            // 409, not 400: the body is well formed; the registry lacks what it names, and
            // registering that provider lets the same request succeed.
            Rejection::UnknownProvider(slug) => ApiError::UnknownProvider(slug),
            Rejection::Invalid(v) => InputError::Invalid(v).into(),
            Rejection::AliasTaken(other) => ApiError::AliasTaken(other),
            Rejection::PriceTaken(other) => ApiError::PriceTaken(other),
            Rejection::BaseUrlTaken(url) => ApiError::BaseUrlTaken(url),
            Rejection::Discovery(refusal) => refusal.into(),
        },
        WriteError::Refused(found) => ApiError::ProbeFailed(found),
        WriteError::Invalid(e) => e.into(),
        WriteError::Store(e) => e.into(),
        WriteError::Crypto(e) => e.into(),
    }
}

/// RFC 3339 UTC with a `Z`, to the second.
fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// The credential that made a change (ngrok's `Ref`).
#[derive(Serialize, utoipa::ToSchema)]
struct Ref {
    id: String,
    uri: String,
}
