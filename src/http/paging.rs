//! `?beforeId=&limit=` paging of lists (and the `provider=` filter of the key list).

use ulid::Ulid;

use super::AppState;
use super::error::ApiError;
use crate::domain::Violations;

/// The largest page a list answers, and its default size.
pub const MAX_PAGE: usize = 100;

#[derive(Debug, PartialEq, Eq)]
pub(super) struct ListQuery {
    pub(super) before: Option<Ulid>,
    pub(super) limit: usize,
    pub(super) provider: Option<String>,
}

impl ListQuery {
    /// Checks every parameter, reporting all problems together. Unknown ones are ignored.
    pub(super) fn parse(query: &str) -> Result<ListQuery, ApiError> {
        let mut v = Violations::default();
        let (mut before, mut limit, mut provider) = (None, None, None);
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "beforeId" => &mut before,
                "limit" => &mut limit,
                "provider" => &mut provider,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                v.add(key, "must be given at most once");
            }
        }
        let limit = match limit {
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
        };
        let before = before.and_then(|raw| {
            v.check(
                "beforeId",
                Ulid::from_string(&raw).map_err(|_| "must be an id (a 26-character ULID)".into()),
            )
        });
        if !v.is_empty() {
            return Err(ApiError::InvalidQuery(v.into_map()));
        }
        Ok(ListQuery {
            before,
            limit,
            provider,
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
        query.append_pair("beforeId", &last.to_string());
        query.append_pair("limit", &self.limit.to_string());
        Some(state.uri(&format!("{path}?{}", query.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_reports_every_bad_parameter() {
        let err = ListQuery::parse("limit=0&beforeId=nope").unwrap_err();
        let ApiError::InvalidQuery(d) = err else {
            panic!("{err:?}")
        };
        assert!(d.contains_key("limit") && d.contains_key("beforeId"));
        assert_eq!(ListQuery::parse("").unwrap().limit, 100);
        assert_eq!(ListQuery::parse("limit=100&other=1").unwrap().limit, 100);
        assert!(ListQuery::parse("limit=101").is_err());
        assert!(ListQuery::parse("limit=5&limit=6").is_err());
        assert_eq!(
            ListQuery::parse("provider=a%20b")
                .unwrap()
                .provider
                .as_deref(),
            Some("a b")
        );
    }
}
