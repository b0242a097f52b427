//! Limits checked before routing.

use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use super::error::ApiError;

/// The longest request target (path and query) answered with more than a 414. actix itself
/// refuses far longer ones while parsing, with a bare 400 this server cannot shape.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Middleware: 414 in the API's error shape for a request target over [`MAX_URI_BYTES`].
pub async fn uri_length(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > MAX_URI_BYTES {
        let refusal = ApiError::UriTooLong {
            limit: MAX_URI_BYTES,
        };
        return Ok(req
            .into_response(refusal.error_response())
            .map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}
