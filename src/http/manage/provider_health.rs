//! A provider's health: `GET /providers/{id}/health` (its status, breaker and last checks, as
//! `gateway::health` keeps them), and what `?include=status,capabilities` adds to a provider
//! in `GET /providers/{id}` and `GET /providers` (ngrok's shape is closed, so only on request).
//! Routed by `providers`, which owns those paths.

use std::collections::BTreeSet;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Provider;
use crate::domain::Violations;
use crate::domain::health::HealthCheck;
use crate::domain::surface::{Format, Surface};
use crate::gateway::Gateway;
use crate::gateway::health::status::Status;
use crate::gateway::policy::breaker::State;
use crate::http::error::ApiError;
use crate::http::{AppState, docs, not_found, path_id, query, rfc3339};

/// What `?include=` may name.
pub(super) const INCLUDABLE: &[&str] = &["status", "capabilities"];

#[utoipa::path(
    get, path = "/providers/{id}/health", tag = "providers", operation_id = "getProviderHealth",
    summary = "A provider's health and its last checks",
    description = "`status`: `online` (a success — a check, or a model call — within two \
        `health.interval_secs`, its breaker closed), `degraded` (breaker half-open, or the last \
        check failed for another reason than the provider being down: 401, 403, 429, an answer \
        that is no model list), `offline` (breaker open, or the last check found it down: no \
        connection, TLS, timeout, 5xx), `unknown` (no signal, or none within two intervals). \
        Checks are the background checks (`[health]`) and `POST /providers/{id}/test`; the \
        last 50 are kept across restarts.",
    params(docs::Id),
    responses(
        (status = 200, description = "Its health.", body = HealthView),
        (status = 404, response = docs::NotFound),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn health(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = path_id(&req, "provider")?;
    let report = state
        .gateway
        .health_of(id)
        .ok_or_else(|| not_found(&req, "provider"))?;
    Ok(HttpResponse::Ok().json(HealthView {
        status: word(report.status),
        last_checked_at: report.last_checked_ms.map(rfc3339),
        last_ok_at: report.last_ok_ms.map(rfc3339),
        latency_ms: report.latency_ms,
        last_error: report.last_error,
        consecutive_failures: report.consecutive_failures,
        breaker: match report.breaker {
            State::Closed => BreakerWord::Closed,
            State::Open => BreakerWord::Open,
            State::HalfOpen => BreakerWord::HalfOpen,
        },
        checks: report.checks.iter().map(CheckView::of).collect(),
    }))
}

/// A provider's health; every field present, `null` where not known.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProviderHealth)]
pub(crate) struct HealthView {
    status: StatusWord,
    /// When the last check ended (RFC 3339).
    #[schema(required = true)]
    last_checked_at: Option<String>,
    /// The last success, by a check or by a model call (RFC 3339).
    #[schema(required = true)]
    last_ok_at: Option<String>,
    /// The last check's latency.
    #[schema(required = true)]
    latency_ms: Option<u64>,
    /// Why the last check failed.
    #[schema(required = true)]
    last_error: Option<String>,
    /// Checks failed since the last success.
    consecutive_failures: u64,
    breaker: BreakerWord,
    /// The last 50 checks, newest first.
    checks: Vec<CheckView>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProviderHealthCheck)]
struct CheckView {
    /// When it ended (RFC 3339).
    at: String,
    ok: bool,
    #[schema(required = true)]
    status_code: Option<u16>,
    #[schema(required = true)]
    latency_ms: Option<u64>,
    #[schema(required = true)]
    error: Option<String>,
}

impl CheckView {
    fn of(c: &HealthCheck) -> CheckView {
        CheckView {
            at: rfc3339(c.at_ms),
            ok: c.ok,
            status_code: c.status_code,
            latency_ms: c.latency_ms,
            error: c.error.clone(),
        }
    }
}

#[derive(Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
#[schema(as = ProviderStatus)]
pub(crate) enum StatusWord {
    Online,
    Degraded,
    Offline,
    Unknown,
}

fn word(status: Status) -> StatusWord {
    match status {
        Status::Online => StatusWord::Online,
        Status::Degraded => StatusWord::Degraded,
        Status::Offline => StatusWord::Offline,
        Status::Unknown => StatusWord::Unknown,
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(as = ProviderBreaker)]
enum BreakerWord {
    Closed,
    Open,
    HalfOpen,
}

/// What a provider serves: `llm` (chat, completions, responses or messages), `embedding`.
#[derive(Serialize, ToSchema, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
#[schema(as = ProviderCapability)]
pub(crate) enum Capability {
    Llm,
    Embedding,
}

/// What `?include=` asked for.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Include {
    pub(super) status: bool,
    pub(super) capabilities: bool,
}

impl Include {
    /// `?include=status,capabilities` (either, both, in any order), or every bad value at once.
    pub(super) fn parse(raw: Option<&str>) -> Result<Include, ApiError> {
        let mut include = Include::default();
        let Some(raw) = raw else {
            return Ok(include);
        };
        let mut bad = BTreeSet::new();
        for value in raw.split(',') {
            match value {
                "status" => include.status = true,
                "capabilities" => include.capabilities = true,
                other => {
                    bad.insert(other.to_owned());
                }
            }
        }
        if !bad.is_empty() {
            let mut v = Violations::default();
            let named: Vec<String> = bad.iter().map(|b| format!("`{b}`")).collect();
            v.add(
                "include",
                format!(
                    "{} is not one of {}: a comma-separated list of them",
                    named.join(", "),
                    INCLUDABLE.join(", ")
                ),
            );
            return Err(ApiError::InvalidQuery(v));
        }
        Ok(include)
    }

    /// The status of `p` (by the routing table's state), when asked for.
    pub(super) fn status(self, gateway: &Gateway, p: &Provider) -> Option<StatusWord> {
        if !self.status {
            return None;
        }
        let snapshot = gateway.snapshot();
        let route = snapshot.slug_of(p.id).and_then(|s| snapshot.route(s));
        Some(route.map_or(StatusWord::Unknown, |r| word(gateway.status_of(r))))
    }

    pub(super) fn capabilities(self, p: &Provider) -> Option<Vec<Capability>> {
        if !self.capabilities {
            return None;
        }
        let found: BTreeSet<Capability> = Surface::ALL
            .into_iter()
            .filter(|s| s.served_by(&p.surfaces, Format::OpenAi))
            .filter_map(|s| match s {
                Surface::Embeddings => Some(Capability::Embedding),
                Surface::CountTokens => None,
                _ => Some(Capability::Llm),
            })
            .collect();
        Some(found.into_iter().collect())
    }
}
