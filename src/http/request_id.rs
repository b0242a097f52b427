//! Every request gets an id, answered as `x-modelgate-request-id` and named in its access line,
//! so a line a call logs anywhere can be joined to the request it served. The data plane hands
//! the same id to the gateway, whose per-attempt lines carry it.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};
use ulid::Ulid;

use super::limits;

pub const HEADER: &str = "x-modelgate-request-id";
const HEADER_NAME: HeaderName = HeaderName::from_static(HEADER);

/// A request's id, in its extensions. Kept as the 16 bytes of a ULID: its text is made only
/// where it is written (the answer's header, a call's log lines).
#[derive(Debug, Clone, Copy)]
pub struct RequestId(pub Ulid);

impl RequestId {
    /// The id the middleware gave `req`, or a fresh one where it did not run (tests that call
    /// a handler alone).
    pub fn of(req: &actix_web::HttpRequest) -> String {
        RequestId::ulid_of(req).to_string()
    }

    /// The same id, as its 16 bytes.
    pub fn ulid_of(req: &actix_web::HttpRequest) -> Ulid {
        req.extensions()
            .get::<RequestId>()
            .map_or_else(Ulid::new, |id| id.0)
    }
}

/// Middleware: gives the request its id, refuses a request target over the URI limit, and
/// answers with the id. Answers carry records and errors, so they are never cached nor
/// content-sniffed, unless a route set its own caching (the admin page's files). One layer
/// for all of it, as each layer costs every call a boxed future.
pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let id = Ulid::new();
    req.extensions_mut().insert(RequestId(id));
    let mut res = match limits::uri_refusal(req.uri()) {
        Some(refusal) => req
            .into_response(refusal.error_response())
            .map_into_right_body(),
        None => next.call(req).await?.map_into_left_body(),
    };
    let headers = res.headers_mut();
    let mut text = [0u8; ulid::ULID_LEN];
    if let Ok(value) = HeaderValue::from_str(id.array_to_str(&mut text)) {
        headers.insert(HEADER_NAME, value);
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
