use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::http::docs::{Internal, Unavailable};
use crate::http::error::ApiError;
use crate::http::{AppState, method_not_allowed};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(health))
            .route(web::head().to(health))
            .default_service(method_not_allowed("GET, HEAD")),
    );
}

/// 200 only when the store answers a read and can take a write.
#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "health",
    summary = "Whether the store answers",
    responses(
        (status = 200, description = "The store answers reads and can take writes.", body = Health),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
    security(())
)]
pub(crate) async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.registry.store().ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(Health { status: "ok" })),
        Err(e) => {
            log::warn!("health check: {e}");
            Err(ApiError::from(e))
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    #[schema(value_type = String, pattern = "^ok$")]
    status: &'static str,
}
