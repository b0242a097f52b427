//! The query parameters of `/usage` and `/usage/overview`, every problem reported at once.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use ulid::Ulid;

use crate::domain::rules::ULID_PATTERN;
use crate::domain::usage::Group;
use crate::domain::{Violations, parse_id};
use crate::http::error::ApiError;
use crate::http::paging::page_limit;
use crate::http::query::params;

/// The widest window an overview sums: a year and a day.
pub(super) const MAX_WINDOW_DAYS: u64 = 366;
const DAY_MS: u64 = 86_400_000;
const MAX_KEY_ID_CHARS: usize = 256;

pub(super) struct Window {
    pub(super) start_ms: u64,
    pub(super) end_ms: u64,
}

pub(super) struct ListParams {
    pub(super) window: Window,
    pub(super) access_key: Option<String>,
    pub(super) include_retries: bool,
    pub(super) cursor: Option<Ulid>,
    pub(super) limit: usize,
    pub(super) timing: bool,
    /// `?include=raw`: the bodies an event keeps (Bifrost's `store_raw_request_response`).
    pub(super) raw: bool,
}

pub(super) struct OverviewParams {
    pub(super) window: Window,
    pub(super) group: Group,
    pub(super) tokens: bool,
}

pub(super) fn list(req: &HttpRequest, now_ms: u64) -> Result<ListParams, ApiError> {
    let mut found = params(
        req,
        &[
            "startTime",
            "endTime",
            "accessKeyId",
            "includeRetries",
            "cursor",
            "limit",
            "include",
        ],
    )?;
    let mut v = Violations::default();
    let window = window(&mut found, now_ms, &mut v, None);
    let access_key = found.remove("accessKeyId").and_then(|id| {
        let fits = !id.is_empty() && id.chars().count() <= MAX_KEY_ID_CHARS;
        v.check(
            "accessKeyId",
            fits.then_some(id)
                .ok_or_else(|| format!("must be 1 to {MAX_KEY_ID_CHARS} characters")),
        )
    });
    let include_retries = boolean(found.remove("includeRetries"), "includeRetries", &mut v);
    let cursor = found.remove("cursor").and_then(|raw| {
        v.check(
            "cursor",
            parse_id(&raw).ok_or_else(|| {
                format!(
                    "must be the cursor of a `nextPageUri`: a 26-character ULID matching \
                     {ULID_PATTERN}"
                )
            }),
        )
    });
    let limit = page_limit(found.remove("limit"), &mut v);
    let asked = included(found.remove("include"), &["timing", "raw"], &mut v);
    match (v.is_empty(), window) {
        (true, Some(window)) => Ok(ListParams {
            window,
            access_key,
            include_retries,
            cursor,
            limit,
            timing: asked.contains(&"timing"),
            raw: asked.contains(&"raw"),
        }),
        _ => Err(ApiError::InvalidQuery(v)),
    }
}

pub(super) fn overview(req: &HttpRequest, now_ms: u64) -> Result<OverviewParams, ApiError> {
    let mut found = params(req, &["startTime", "endTime", "groupBy", "include"])?;
    let mut v = Violations::default();
    let window = window(&mut found, now_ms, &mut v, Some(MAX_WINDOW_DAYS));
    let group = match found.remove("groupBy").as_deref() {
        None | Some("provider") => Group::Provider,
        Some("accessKey") => Group::AccessKey,
        Some(_) => {
            v.add("groupBy", "must be `provider` or `accessKey`");
            Group::Provider
        }
    };
    let tokens = !included(found.remove("include"), &["tokens"], &mut v).is_empty();
    match (v.is_empty(), window) {
        (true, Some(window)) => Ok(OverviewParams {
            window,
            group,
            tokens,
        }),
        _ => Err(ApiError::InvalidQuery(v)),
    }
}

/// `startTime` (required) and `endTime` (now by default), in order, and no wider than
/// `max_days` when given.
fn window(
    found: &mut BTreeMap<&'static str, String>,
    now_ms: u64,
    v: &mut Violations,
    max_days: Option<u64>,
) -> Option<Window> {
    let start = match found.remove("startTime") {
        None => {
            v.add(
                "startTime",
                "is required: an RFC 3339 time, such as 2026-12-01T00:00:00Z",
            );
            None
        }
        Some(raw) => time(&raw, "startTime", v),
    };
    let end = match found.remove("endTime") {
        None => Some(now_ms),
        Some(raw) => time(&raw, "endTime", v),
    };
    let (start_ms, end_ms) = (start?, end?);
    if end_ms < start_ms {
        v.add("endTime", "must not be before startTime");
        return None;
    }
    if let Some(days) = max_days
        && end_ms - start_ms > days * DAY_MS
    {
        v.add(
            "endTime",
            format!("must be at most {days} days after startTime"),
        );
        return None;
    }
    Some(Window { start_ms, end_ms })
}

/// An RFC 3339 time with any offset, as ms since the epoch.
fn time(raw: &str, name: &'static str, v: &mut Violations) -> Option<u64> {
    let parsed = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok());
    v.check(
        name,
        parsed.ok_or_else(|| {
            "must be an RFC 3339 time at or after 1970, such as 2026-12-01T00:00:00Z or \
             2026-12-01T01:00:00+01:00"
                .to_owned()
        }),
    )
}

fn boolean(raw: Option<String>, name: &'static str, v: &mut Violations) -> bool {
    match raw.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            v.add(name, "must be `true` or `false`");
            false
        }
    }
}

/// The extensions `?include=` names, comma-separated, each one of `known` (the route's).
fn included(raw: Option<String>, known: &[&'static str], v: &mut Violations) -> Vec<&'static str> {
    let Some(raw) = raw else { return Vec::new() };
    let mut asked = Vec::new();
    for part in raw.split(',') {
        match known.iter().find(|k| **k == part) {
            Some(k) => asked.push(*k),
            None => {
                let rule = match known {
                    [only] => format!("must be `{only}`, the one extension this route has"),
                    _ => format!(
                        "must name extensions of this route, comma-separated: {}",
                        known.join(", ")
                    ),
                };
                v.add("include", rule);
                return Vec::new();
            }
        }
    }
    asked
}
