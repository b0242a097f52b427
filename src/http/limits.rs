//! Limits checked before routing.

use super::error::ApiError;

/// The longest request target (path and query) answered with more than a 414. actix itself
/// refuses far longer ones while parsing, with a bare 400 this server cannot shape.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// The 414, in the API's error shape, for a request target over [`MAX_URI_BYTES`]. Checked by
/// the request-id middleware, so that the refusal carries an id like every other answer, and
/// no second middleware layer is paid on every call.
pub fn uri_refusal(uri: &actix_web::http::Uri) -> Option<ApiError> {
    let len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    (len > MAX_URI_BYTES).then_some(ApiError::UriTooLong {
        limit: MAX_URI_BYTES,
    })
}
