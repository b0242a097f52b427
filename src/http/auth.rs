//! Bearer-token middleware for the management API, and the caller it identifies.

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use super::AppState;
use super::error::ApiError;
use crate::auth::{Credentials, Identity, Kind, bearer_token};
use crate::domain::now_ms;
use crate::gateway::usage::Used;

/// Who made the request: the id of the credential it presented.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Only present when `require_bearer` ran; its absence is a routing mistake, and the
        // safe answer to it is a refusal.
        ready(
            req.extensions()
                .get::<Caller>()
                .cloned()
                .ok_or(ApiError::Unauthorized { presented: false }),
        )
    }
}

/// Middleware: lets a request through only with a known bearer token, before any routing,
/// body parsing or lookup happens, so an anonymous client learns nothing. A refusal is a normal
/// response (not an `Err`) so the access log still records it.
pub async fn require_bearer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match authenticate(&req) {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refusal) => Ok(req
            .into_response(refusal.error_response())
            .map_into_right_body()),
    }
}

pub(crate) fn authenticate(req: &ServiceRequest) -> Result<Caller, ApiError> {
    let credentials = req
        .app_data::<web::Data<Credentials>>()
        .ok_or_else(|| ApiError::internal("no credentials configured in app data"))?;
    let mut presented = req.headers().get_all(header::AUTHORIZATION);
    let first = presented.next();
    if presented.next().is_some() {
        // Which one a proxy or framework would pick differs; none is picked here.
        return Err(ApiError::InvalidHeader {
            name: "Authorization",
            rule: "must be sent once; this request has more than one".into(),
        });
    }
    let token = first
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or(ApiError::Unauthorized { presented: false })?;
    let identity = credentials
        .identify(token)
        .ok_or(ApiError::Unauthorized { presented: true })?;
    if identity.kind == Kind::Access {
        return Err(ApiError::AccessKeyNotAllowed);
    }
    note_use(
        req.app_data::<web::Data<AppState>>().map(|s| &***s),
        &identity,
    );
    Ok(Caller { id: identity.id })
}

/// A stored credential's use, for its batched `lastUsed`.
pub(crate) fn note_use(state: Option<&AppState>, identity: &Identity) {
    if let (Some(state), Some(id)) = (state, identity.stored) {
        let used = match identity.kind {
            Kind::Access => Used::AccessKey(id),
            _ => Used::ApiKey(id),
        };
        state.uses.record_use(used, now_ms());
    }
}
