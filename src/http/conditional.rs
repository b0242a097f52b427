//! Conditional requests: `ETag` on answers, `If-None-Match` on reads, `If-Match` on writes.

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use super::error::ApiError;
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

/// `If-Match`, compared strongly: a weak tag never matches. A header that is not `*` or a
/// list of entity tags (`"…"` or `W/"…"`, RFC 9110) is refused: read as a tag that matches
/// nothing, it would turn a client's mistake into a misleading "changed since" 412.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<Precondition>, ApiError> {
    let Some(tags) = header_values(headers, header::IF_MATCH) else {
        return Ok(None);
    };
    let invalid = |rule: &str| ApiError::InvalidHeader {
        name: "If-Match",
        rule: rule.to_owned(),
    };
    if tags.is_empty() {
        return Err(invalid(
            "must be `*` or a list of entity tags such as \"01J…-3\"",
        ));
    }
    if tags.iter().any(|t| t == "*") {
        return match tags.len() {
            1 => Ok(Some(Precondition::Exists)),
            _ => Err(invalid("`*` stands alone, not in a list")),
        };
    }
    if let Some(bad) = tags.iter().find(|t| !is_entity_tag(t)) {
        return Err(invalid(&format!(
            "`{}` is not an entity tag: write it in double quotes, as the ETag header gives it",
            bad.chars().take(64).collect::<String>()
        )));
    }
    Ok(Some(Precondition::OneOf(tags)))
}

/// `[W/]"etagc*"`, where etagc is any visible character but `"` (RFC 9110 §8.8.3).
fn is_entity_tag(tag: &str) -> bool {
    let opaque = tag.strip_prefix("W/").unwrap_or(tag);
    opaque.len() >= 2
        && opaque.starts_with('"')
        && opaque.ends_with('"')
        && opaque[1..opaque.len() - 1]
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7E).contains(&b) || b >= 0x80)
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
