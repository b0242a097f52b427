//! `?beforeId=&limit=` paging of lists (and the `provider=` filter of the key list).

use actix_web::HttpRequest;
use ulid::Ulid;

use super::AppState;
use super::error::ApiError;
use super::query::params;
use crate::domain::rules::ULID_PATTERN;
use crate::domain::{Violations, parse_id};

/// The largest page a list answers, and its default size.
pub const MAX_PAGE: usize = 100;

#[derive(Debug, PartialEq, Eq)]
pub(super) struct ListQuery {
    pub(super) before: Option<Ulid>,
    pub(super) limit: usize,
    pub(super) provider: Option<String>,
    pub(super) include: Option<String>,
}

impl ListQuery {
    /// Checks every parameter of `req` (`provider` only where `filtered`), reporting all
    /// problems together.
    pub(super) fn parse(req: &HttpRequest, filtered: bool) -> Result<ListQuery, ApiError> {
        let known: &[&'static str] = match filtered {
            true => &["limit", "beforeId", "provider"],
            false => &["limit", "beforeId"],
        };
        ListQuery::parse_known(req, known)
    }

    /// As [`ListQuery::parse`], for a list that also takes `?include=` (kept as given, for
    /// the caller to read, and for the next page's URI).
    pub(super) fn parse_including(req: &HttpRequest) -> Result<ListQuery, ApiError> {
        ListQuery::parse_known(req, &["limit", "beforeId", "include"])
    }

    fn parse_known(req: &HttpRequest, known: &[&'static str]) -> Result<ListQuery, ApiError> {
        let mut found = params(req, known)?;
        let (before, limit, provider, include) = (
            found.remove("beforeId"),
            found.remove("limit"),
            found.remove("provider"),
            found.remove("include"),
        );
        let mut v = Violations::default();
        let limit = page_limit(limit, &mut v);
        let before = before.and_then(|raw| {
            v.check(
                "beforeId",
                parse_id(&raw).ok_or_else(|| {
                    format!("must be an id: a 26-character ULID matching {ULID_PATTERN}")
                }),
            )
        });
        if !v.is_empty() {
            return Err(ApiError::InvalidQuery(v));
        }
        Ok(ListQuery {
            before,
            limit,
            provider,
            include,
        })
    }

    /// The next page's URI when there is one: same filter, cursor at the last item.
    pub(super) fn next_page(
        &self,
        state: &AppState,
        path: &str,
        has_more: bool,
        last: Option<Ulid>,
    ) -> Option<String> {
        let last = last.filter(|_| has_more)?;
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(provider) = &self.provider {
            query.append_pair("provider", provider);
        }
        if let Some(include) = &self.include {
            query.append_pair("include", include);
        }
        query.append_pair("beforeId", &last.to_string());
        query.append_pair("limit", &self.limit.to_string());
        Some(state.uri(&format!("{path}?{}", query.finish())))
    }
}

/// `limit`: 1 to [`MAX_PAGE`], that when absent (or wrong, with the violation noted).
pub(super) fn page_limit(raw: Option<String>, v: &mut Violations) -> usize {
    match raw {
        None => MAX_PAGE,
        Some(raw) => v
            .check(
                "limit",
                raw.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| format!("must be an integer from 1 to {MAX_PAGE}")),
            )
            .unwrap_or(MAX_PAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn parse(uri: &str, filtered: bool) -> Result<ListQuery, ApiError> {
        ListQuery::parse(&TestRequest::with_uri(uri).to_http_request(), filtered)
    }

    #[test]
    fn list_query_reports_every_bad_parameter() {
        let err = parse("/p?limit=0&beforeId=nope", false).unwrap_err();
        let ApiError::InvalidQuery(v) = err else {
            panic!("{err:?}")
        };
        let d = v.to_map();
        assert!(d.contains_key("limit") && d.contains_key("beforeId"));
        assert_eq!(parse("/p", false).unwrap().limit, 100);
        assert_eq!(parse("/p?limit=100", false).unwrap().limit, 100);
        assert!(parse("/p?limit=100&other=1", false).is_err());
        assert!(parse("/p?limit=101", false).is_err());
        assert!(parse("/p?limit=5&limit=6", false).is_err());
        assert!(parse("/p?provider=a", false).is_err());
        assert_eq!(
            parse("/p?provider=a%20b", true)
                .unwrap()
                .provider
                .as_deref(),
            Some("a b")
        );
    }

    #[test]
    fn a_cursor_has_one_spelling() {
        let id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        assert!(parse(&format!("/p?beforeId={id}"), false).is_ok());
        for other in [
            id.to_lowercase(),
            format!("8{}", &id[1..]),
            "ZZZZZZZZZZZZZZZZZZZZZZZZZZ".to_owned(),
        ] {
            assert!(
                parse(&format!("/p?beforeId={other}"), false).is_err(),
                "{other}"
            );
        }
    }
}
