//! Conditional requests: `ETag` on answers, `If-None-Match` on reads, `If-Match` on writes.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse};
use regex::Regex;
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

/// What `If-Match` may be (RFC 9110): `*`, or a comma-separated list of entity tags, each
/// `"…"` or `W/"…"` of visible ASCII but `"`. The OpenAPI document states the same pattern.
pub const IF_MATCH_PATTERN: &str =
    r#"^[ \t]*(?:\*|(?:W/)?"[!#-~]*"(?:[ \t]*,[ \t]*(?:W/)?"[!#-~]*")*)[ \t]*$"#;

/// `If-Match`, compared strongly: a weak tag never matches. A header that is not
/// [`IF_MATCH_PATTERN`] is refused: read as a tag that matches nothing, it would turn a
/// client's mistake into a misleading "changed since" 412.
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<Precondition>, ApiError> {
    static LIST: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(IF_MATCH_PATTERN).expect("the If-Match pattern compiles"));
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?:W/)?"[!#-~]*"|\*"#).expect("the tag pattern compiles"));
    let mut lines = headers.get_all(header::IF_MATCH).peekable();
    if lines.peek().is_none() {
        return Ok(None);
    }
    let joined = lines
        .map(|v| v.to_str().unwrap_or("\u{0}"))
        .collect::<Vec<_>>()
        .join(", ");
    if !LIST.is_match(&joined) {
        return Err(ApiError::InvalidHeader {
            name: "If-Match",
            rule: "must be `*` or a comma-separated list of entity tags in double quotes, as \
                   the ETag header gives them (\"01J…-3\")"
                .into(),
        });
    }
    let tags: Vec<String> = TAG
        .find_iter(&joined)
        .map(|m| m.as_str().to_owned())
        .collect();
    Ok(Some(if tags.iter().any(|t| t == "*") {
        Precondition::Exists
    } else {
        Precondition::OneOf(tags)
    }))
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
