//! Conditional requests: `ETag` on answers, `If-None-Match` on reads, `If-Match` on writes.

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::domain::Precondition;

fn header_values(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<String>> {
    let mut found = false;
    let mut tags = Vec::new();
    for value in headers.get_all(name) {
        found = true;
        let text = value.to_str().unwrap_or_default();
        tags.extend(
            text.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        );
    }
    found.then_some(tags)
}

/// `If-Match`, compared strongly: a weak tag never matches.
pub(super) fn if_match(headers: &HeaderMap) -> Option<Precondition> {
    let tags = header_values(headers, header::IF_MATCH)?;
    Some(if tags.iter().any(|t| t == "*") {
        Precondition::Exists
    } else {
        Precondition::OneOf(tags)
    })
}

/// `If-None-Match`, compared weakly as RFC 9110 asks for GET.
pub(super) fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    header_values(headers, header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
    })
}

/// A single resource with its `ETag`, or 304 when the client's copy is current.
pub(super) fn tagged<T: Serialize>(req: &HttpRequest, etag: String, body: &T) -> HttpResponse {
    if none_match_hits(req.headers(), &etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .json(body)
}
