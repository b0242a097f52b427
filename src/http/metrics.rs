//! `GET /metrics` (the Prometheus text exposition of `crate::metrics`) and the middleware that
//! counts every HTTP answer by its matched route pattern — never its path, which a client
//! chooses. `/metrics` takes a management credential (an access key is 403
//! `access_key_not_allowed`), unless `metrics.public`.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{self, Next};
use actix_web::{HttpResponse, ResponseError, web};

use super::auth::authenticate;
use super::docs;
use super::{AppState, method_not_allowed};
use crate::gateway::policy::breaker;
use crate::metrics::{BreakerState, CONTENT_TYPE, UNMATCHED_ROUTE};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metrics")
            .wrap(middleware::from_fn(guard))
            .route(web::get().to(scrape))
            .route(web::head().to(scrape))
            .default_service(method_not_allowed("GET, HEAD")),
    );
}

/// Middleware around the whole app: one observation per answer, at its head.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.match_pattern();
    let answered = next.call(req).await;
    let status = match &answered {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    state.metrics.observe_http(
        method.as_str(),
        route.as_deref().unwrap_or(UNMATCHED_ROUTE),
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    answered
}

/// The management credential check, skipped when `metrics.public`.
async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let public = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.metrics.public());
    if !public && let Err(refusal) = authenticate(&req) {
        return Ok(req
            .into_response(refusal.error_response())
            .map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "getMetrics",
    summary = "Prometheus metrics",
    description = "The Prometheus text exposition format: HTTP requests by method, route \
        pattern and status with latency histograms; upstream attempts by provider, model and \
        outcome; tokens by provider, model and direction; streams' time to first content; \
        each provider's breaker state; model calls refused before any attempt; usage events \
        dropped; store write latency and group-commit size. `model` is `other` unless the \
        provider declares the model. Needs a management credential unless `metrics.public`.",
    responses(
        (status = 200, description = "Every metric family.", content_type = "text/plain",
            body = String),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    let breakers = state
        .gateway
        .breakers()
        .into_iter()
        .map(|(provider, state)| (provider, shown(state)));
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(CONTENT_TYPE)
        .body(state.metrics.render(breakers))
}

fn shown(state: breaker::State) -> BreakerState {
    match state {
        breaker::State::Closed => BreakerState::Closed,
        breaker::State::HalfOpen => BreakerState::HalfOpen,
        breaker::State::Open => BreakerState::Open,
    }
}
