//! `/usage` and `/usage/overview`: what the data plane's attempts used, in ngrok's
//! `AIGatewayUsage*` shapes, read from the usage store. Both are bounded: events come in pages
//! of at most 100 behind an opaque cursor, and an overview reads one sum per day and group
//! (never the events) over at most a year.

mod query;

use std::time::{Duration, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::now_ms;
use crate::domain::usage::{DayTotals, KeySource, UsageEvent, day_of, day_start_ms, show_cost};
use crate::http::auth::require_bearer;
use crate::http::docs;
use crate::http::error::ApiError;
use crate::http::{AppState, method_not_allowed, no_route};
use crate::store::usage::EventQuery;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/usage")
            .wrap(middleware::from_fn(require_bearer))
            .service(
                web::resource("")
                    .route(web::get().to(list))
                    .route(web::head().to(list))
                    .default_service(method_not_allowed("GET, HEAD")),
            )
            .service(
                web::resource("/overview")
                    .route(web::get().to(overview))
                    .route(web::head().to(overview))
                    .default_service(method_not_allowed("GET, HEAD")),
            )
            .default_service(web::to(no_route)),
    );
}

#[utoipa::path(
    get, path = "/usage", tag = "usage", operation_id = "listUsage",
    summary = "List usage events, one per upstream attempt, newest first",
    description = "An event per attempt the data plane made: retries and fallbacks each \
        their own (with `includeRetries=true`; by default only each request's final attempt), \
        and attempts that got no answer as `statusCode` 0. Token counts are the upstream's; \
        counts it did not report are 0.",
    params(docs::UsageQuery),
    responses(
        (status = 200, description = "One page.", body = UsageListView),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = query::list(&req, now_ms())?;
    let page = state.usage.events(&EventQuery {
        start_ms: p.window.start_ms,
        end_ms: p.window.end_ms,
        access_key: p.access_key.clone(),
        include_retries: p.include_retries,
        before: p.cursor,
        limit: p.limit,
        with_raw: p.raw,
    })?;
    let next_page_uri = page
        .items
        .last()
        .filter(|_| page.has_more)
        .map(|last| state.uri(&format!("/usage?{}", next_query(&req, last))));
    Ok(HttpResponse::Ok().json(UsageListView {
        ai_gateway_usage: page.items.iter().map(|e| event_view(e, p.timing)).collect(),
        uri: state.uri(&format!("/usage{}", query_suffix(&req))),
        next_page_uri,
    }))
}

/// The query of `req` with its cursor at `last`.
fn next_query(req: &HttpRequest, last: &UsageEvent) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        if key != "cursor" {
            query.append_pair(&key, &value);
        }
    }
    query.append_pair("cursor", &last.id.to_string());
    query.finish()
}

fn query_suffix(req: &HttpRequest) -> String {
    match req.query_string() {
        "" => String::new(),
        q => format!("?{q}"),
    }
}

#[utoipa::path(
    get, path = "/usage/overview", tag = "usage", operation_id = "getUsageOverview",
    summary = "Daily cost, requests and errors over a window, by provider or access key",
    description = "A bucket per UTC day the window overlaps and group key, ordered by day then \
        key, read from daily sums kept as the events are written. `requests` and `errors` count \
        final attempts; `cost` sums every attempt.",
    params(docs::UsageOverviewQuery),
    responses(
        (status = 200, description = "The series and the window's totals.", body = OverviewView),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn overview(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = query::overview(&req, now_ms())?;
    let (first, last) = (day_of(p.window.start_ms), day_of(p.window.end_ms));
    let series = state.usage.days(p.group, first, last)?;
    let mut totals = DayTotals::default();
    let buckets = series
        .iter()
        .map(|((day, key), sums)| {
            totals.merge(sums);
            let [
                input_tokens,
                output_tokens,
                cache_read_tokens,
                cache_write_tokens,
                reasoning_tokens,
            ] = token_sums(sums, p.tokens);
            BucketView {
                bucket_start: rfc3339_ms(day_start_ms(*day)),
                group_key: key.clone(),
                cost: show_cost(sums.cost_nanos),
                requests: sums.requests,
                errors: sums.errors,
                input_tokens,
                output_tokens,
                cache_read_tokens,
                cache_write_tokens,
                reasoning_tokens,
            }
        })
        .collect();
    let [
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
    ] = token_sums(&totals, p.tokens);
    Ok(HttpResponse::Ok().json(OverviewView {
        uri: state.uri(&format!("/usage/overview{}", query_suffix(&req))),
        buckets,
        totals: TotalsView {
            cost: show_cost(totals.cost_nanos),
            requests: totals.requests,
            errors: totals.errors,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
            reasoning_tokens,
        },
    }))
}

/// RFC 3339 UTC to the millisecond: events of one second stay apart.
fn rfc3339_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn event_view(e: &UsageEvent, timing: bool) -> EventView {
    let (key_source, key_id, key_shown) = match &e.key {
        KeySource::User { key_id, redacted } => {
            ("user", Some(key_id.to_string()), Some(redacted.clone()))
        }
        KeySource::None => ("none", None, None),
    };
    EventView {
        id: e.id.to_string(),
        event_time: rfc3339_ms(e.at_ms()),
        request_id: e.request_id.clone(),
        access_key_id: e.access_key_id.clone(),
        provider: e.provider.clone(),
        provider_display_name: e.provider_name.clone(),
        model: e.model.clone(),
        model_display_name: e.model.clone(),
        attempt_number: e.attempt_number,
        is_final_attempt: e.is_final_attempt,
        status_code: e.status_code,
        timed_out: e.timed_out,
        is_error: e.is_error,
        is_streaming: e.is_streaming,
        stop_reason: e.stop_reason.clone(),
        input_tokens: e.tokens.input,
        output_tokens: e.tokens.output,
        cache_read_tokens: e.tokens.cache_read,
        reasoning_tokens: e.tokens.reasoning,
        total_cost: show_cost(e.cost_nanos.unwrap_or(0)),
        key_source,
        provider_key_id: key_id,
        provider_key_display_name: key_shown,
        latency_ms: timing.then_some(e.latency_ms),
        ttfb_ms: timing.then_some(e.ttfb_ms),
        cache_write_tokens: timing.then_some(e.tokens.cache_write),
        tokens_known: timing.then_some(e.tokens.known),
        raw_request: e.raw.as_ref().and_then(|r| r.request.clone()),
        raw_response: e.raw.as_ref().and_then(|r| r.response.clone()),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayUsageList)]
pub(crate) struct UsageListView {
    ai_gateway_usage: Vec<EventView>,
    uri: String,
    next_page_uri: Option<String>,
}

/// One attempt (ngrok's `AIGatewayUsageEvent`); `?include=timing` adds modelgate's fields.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayUsageEvent)]
pub(crate) struct EventView {
    id: String,
    event_time: String,
    request_id: String,
    access_key_id: String,
    provider: String,
    provider_display_name: String,
    model: String,
    model_display_name: String,
    attempt_number: u32,
    is_final_attempt: bool,
    status_code: u16,
    timed_out: bool,
    is_error: bool,
    is_streaming: bool,
    stop_reason: String,
    input_tokens: u64,
    output_tokens: u64,
    cache_read_tokens: u64,
    reasoning_tokens: u64,
    /// US dollars, five decimal places.
    total_cost: String,
    /// `user` (a provider key of the registry) or `none` (a keyless call).
    key_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_key_display_name: Option<String>,
    // `?include=timing` (modelgate's): fields of their own rather than a flattened struct,
    // whose schema would be an `allOf` of closed objects that no answer can satisfy.
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    /// `null` when nothing answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    ttfb_ms: Option<Option<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_write_tokens: Option<u64>,
    /// `false`: the upstream reported no counts, and the counts shown are 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens_known: Option<bool>,
    // `?include=raw` (modelgate's, for Bifrost's `store_raw_request_response`): only on the
    // events that kept them.
    /// The body sent upstream, in the provider's format, at most 64 KiB (longer ones end with
    /// `…[truncated: N bytes in all]`); never a credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_request: Option<String>,
    /// The upstream's answer as it came (a stream's events included), bounded likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_response: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayUsageOverview)]
pub(crate) struct OverviewView {
    uri: String,
    buckets: Vec<BucketView>,
    totals: TotalsView,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayUsageOverviewBucket)]
struct BucketView {
    bucket_start: String,
    group_key: String,
    cost: String,
    requests: u64,
    errors: u64,
    // `?include=tokens` (modelgate's): sums over every attempt, as fields of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_read_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_write_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_tokens: Option<u64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayUsageOverviewTotals)]
struct TotalsView {
    cost: String,
    requests: u64,
    errors: u64,
    // `?include=tokens` (modelgate's): sums over every attempt, as fields of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_read_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_write_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_tokens: Option<u64>,
}

/// A bucket's or the window's token sums, when asked for: input, output, cache read, cache
/// write, reasoning.
fn token_sums(sums: &DayTotals, asked: bool) -> [Option<u64>; 5] {
    [
        sums.input_tokens,
        sums.output_tokens,
        sums.cache_read_tokens,
        sums.cache_write_tokens,
        sums.reasoning_tokens,
    ]
    .map(|n| asked.then_some(n))
}
