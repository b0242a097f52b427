//! HTTP routes, one module per resource, each with its own `configure`.

mod health;
mod providers;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::error::ApiError;
use crate::store::{ProviderStore, StoreError};

/// What every handler shares.
pub struct AppState {
    pub store: Arc<dyn ProviderStore>,
    /// Prefix of returned URIs: the configured public URL, or empty for path-only URIs.
    pub public_url: String,
}

impl AppState {
    pub fn uri(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Runs blocking store work on the blocking pool, never on an async worker.
    pub async fn store<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&dyn ProviderStore) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.store);
        web::block(move || work(store.as_ref()))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    providers::configure(cfg);
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
fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move { ApiError::MethodNotAllowed { allow }.error_response() })
}

/// Client-supplied text quoted in a message, cut so a huge path cannot bloat the answer.
fn truncated(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}
