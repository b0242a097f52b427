//! HTTP routes, one module per resource, each with its own `configure`, and what they share:
//! paging, conditional headers, timestamps and credential references.

pub mod doc;
mod health;
mod provider_keys;
mod providers;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;
use ulid::Ulid;

use crate::domain::{Precondition, Violations};
use crate::error::ApiError;
use crate::secrets::MasterKey;
use crate::store::{Durable, KeyStore, Outcome, ProviderStore, Rejection, StoreError};

/// The largest page a list answers, and its default size.
pub const MAX_PAGE: usize = 100;

/// What every handler shares.
pub struct AppState {
    pub providers: Arc<dyn ProviderStore>,
    pub keys: Arc<dyn KeyStore>,
    pub master_key: Arc<MasterKey>,
    /// Prefix of returned URIs: the configured public URL, or empty for path-only URIs.
    pub public_url: String,
}

impl AppState {
    pub fn uri(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// `{id, uri}` of the credential that made a change.
    fn credential(&self, id: &str) -> Ref {
        Ref {
            id: id.to_owned(),
            uri: self.uri(&format!("/api-keys/{id}")),
        }
    }

    /// Reads on the calling worker. A sled read is served from its page cache (or the OS's) in
    /// microseconds and never waits for a flush; handing it to the blocking pool costs two
    /// thread switches that take longer than the read (docs/benchmarks.md has the figures).
    pub fn read_providers<T>(
        &self,
        work: impl FnOnce(&dyn ProviderStore) -> Result<T, StoreError>,
    ) -> Result<T, ApiError> {
        Ok(work(self.providers.as_ref())?)
    }

    /// Key-store reads, inline for the same reason as [`AppState::read_providers`].
    pub fn read_keys<T>(
        &self,
        work: impl FnOnce(&dyn KeyStore) -> Result<T, StoreError>,
    ) -> Result<T, ApiError> {
        Ok(work(self.keys.as_ref())?)
    }

    /// A provider write: the transaction on the blocking pool, then an await (holding no
    /// thread) until the group flush made it durable. Only then may the client hear of it.
    pub async fn write_providers<T, F>(&self, work: F) -> Result<Result<T, Rejection>, ApiError>
    where
        F: FnOnce(&dyn ProviderStore) -> Outcome<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.providers);
        durable(web::block(move || Ok(work(store.as_ref())?)).await).await
    }

    /// A key write (with its sealing), like [`AppState::write_providers`].
    pub async fn write_keys<T, F>(&self, work: F) -> Result<Result<T, Rejection>, ApiError>
    where
        F: FnOnce(&dyn KeyStore, &MasterKey) -> Result<Result<Durable<T>, Rejection>, ApiError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let store = Arc::clone(&self.keys);
        let master = Arc::clone(&self.master_key);
        durable(web::block(move || work(store.as_ref(), &master)).await).await
    }
}

async fn durable<T>(
    applied: Result<
        Result<Result<Durable<T>, Rejection>, ApiError>,
        actix_web::error::BlockingError,
    >,
) -> Result<Result<T, Rejection>, ApiError> {
    match applied.map_err(ApiError::internal)?? {
        Ok(write) => Ok(Ok(write.wait().await?)),
        Err(rejection) => Ok(Err(rejection)),
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    providers::configure(cfg);
    provider_keys::configure(cfg);
    health::configure(cfg);
    doc::configure(cfg);
    crate::admin::configure(cfg);
}

/// The JSON 404 for every path no route claims.
pub async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        truncated(req.path(), 200)
    ))
    .error_response()
}

/// A resource's answer to a method it does not serve.
pub(crate) fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move || async move { ApiError::MethodNotAllowed { allow }.error_response() })
}

/// Client-supplied text quoted in a message, cut so a huge path cannot bloat the answer.
fn truncated(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The `{id}` of the path. An id that is not a ULID names nothing: a 404 like any unknown id.
fn path_id(req: &HttpRequest, noun: &str) -> Result<Ulid, ApiError> {
    let raw = req.match_info().get("id").unwrap_or_default();
    Ulid::from_string(raw).map_err(|_| not_found(req, noun))
}

fn not_found(req: &HttpRequest, noun: &str) -> ApiError {
    let raw = req.match_info().get("id").unwrap_or_default();
    ApiError::NotFound(format!("no {noun} with id `{}`", truncated(raw, 64)))
}

/// The API error for a store's refusal of a write on the resource `noun`. Refusals that need
/// the request's content to explain (a taken or unknown `providerId`) are answered by their
/// route before it gets here; reaching this with one is a bug, reported opaquely.
fn rejected(req: &HttpRequest, noun: &str, rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::NotFound => not_found(req, noun),
        Rejection::PreconditionFailed => ApiError::PreconditionFailed,
        Rejection::HasKeys(count) => ApiError::ProviderHasKeys(count),
        Rejection::ProviderIdTaken | Rejection::UnknownProvider => ApiError::internal(format!(
            "store answered {rejection:?} to a {noun} write that cannot cause it"
        )),
    }
}

/// `?beforeId=&limit=` (and `provider=` where a list filters by it).
#[derive(Debug, PartialEq, Eq)]
struct ListQuery {
    before: Option<Ulid>,
    limit: usize,
    provider: Option<String>,
}

impl ListQuery {
    /// Checks every parameter, reporting all problems together. Unknown ones are ignored.
    fn parse(query: &str) -> Result<ListQuery, ApiError> {
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
    fn next_page(
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

/// Inside a write transaction: refuses the write when `If-Match` names another version.
fn guard(precondition: Option<&Precondition>, etag: &str) -> Result<(), Rejection> {
    match precondition {
        Some(p) if !p.allows(etag) => Err(Rejection::PreconditionFailed),
        _ => Ok(()),
    }
}

/// `If-Match`, compared strongly: a weak tag never matches.
fn if_match(headers: &HeaderMap) -> Option<Precondition> {
    let tags = header_values(headers, header::IF_MATCH)?;
    Some(if tags.iter().any(|t| t == "*") {
        Precondition::Exists
    } else {
        Precondition::OneOf(tags)
    })
}

/// `If-None-Match`, compared weakly as RFC 9110 asks for GET.
fn none_match_hits(headers: &HeaderMap, etag: &str) -> bool {
    header_values(headers, header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
    })
}

/// A single resource with its `ETag`, or 304 when the client's copy is current.
fn tagged<T: Serialize>(req: &HttpRequest, etag: String, body: &T) -> HttpResponse {
    if none_match_hits(req.headers(), &etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .json(body)
}

/// RFC 3339 UTC with a `Z`, to the second.
fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// The credential that made a change (ngrok's `Ref`).
#[derive(Serialize, utoipa::ToSchema)]
struct Ref {
    id: String,
    uri: String,
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
