//! Every request gets an id, answered as `x-modelgate-request-id` and named in its access line,
//! so a line a call logs anywhere can be joined to the request it served. The data plane hands
//! the same id to the gateway, whose per-attempt lines carry it.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use ulid::Ulid;

pub const HEADER: &str = "x-modelgate-request-id";

/// A request's id, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id the middleware gave `req`, or a fresh one where it did not run (tests that call
    /// a handler alone).
    pub fn of(req: &actix_web::HttpRequest) -> String {
        req.extensions()
            .get::<RequestId>()
            .map_or_else(|| Ulid::new().to_string(), |id| id.0.clone())
    }
}

/// Middleware: gives the request its id and answers with it.
pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = Ulid::new().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(HEADER), value);
    }
    Ok(res)
}
