//! A provider's test: `POST /providers/{id}/test` probes it with its newest usable key,
//! `POST /provider-keys/{id}/test` with that key (the probe itself is `gateway::probe`), and
//! `?validate=true` on a provider's create or PATCH refuses a record whose probe fails. Routed
//! by `providers` and `provider_keys`, which own those paths.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Provider;
use crate::gateway::Gateway;
use crate::gateway::state::Check;
use crate::http::error::ApiError;
use crate::http::query;
use crate::http::{AppState, docs, not_found, path_id};

#[utoipa::path(
    post, path = "/providers/{id}/test", tag = "providers", operation_id = "testProvider",
    summary = "Probe a provider: read its model list",
    description = "Reads the provider's model list (its base URL joined with `/models`, or \
        `requestPathOverrides.models`; Anthropic's format page by page) with its newest usable \
        key, through the same network settings and outbound rules as a model call, within \
        `gateway.probe_timeout_ms` (10 s). The answer is 200 whenever the probe ran, its \
        failure included (`ok: false`); the provider keeps it as its last check (in memory). \
        A key's `lastUsed` does not move.",
    params(docs::Id),
    responses(
        (status = 200, description = "What the probe found.", body = ProbeView),
        (status = 404, response = docs::NotFound),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn test_provider(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = path_id(&req, "provider")?;
    let check = state
        .gateway
        .probe_provider(id)
        .await
        .ok_or_else(|| not_found(&req, "provider"))?;
    Ok(HttpResponse::Ok().json(ProbeView::of(&check)))
}

#[utoipa::path(
    post, path = "/provider-keys/{id}/test", tag = "provider-keys",
    operation_id = "testProviderKey",
    summary = "Probe a key's provider with that key",
    description = "As `POST /providers/{id}/test`, with this key.",
    params(docs::Id),
    responses(
        (status = 200, description = "What the probe found.", body = ProbeView),
        (status = 404, response = docs::NotFound),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn test_key(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = path_id(&req, "provider key")?;
    let check = state
        .gateway
        .probe_key(id)
        .await
        .ok_or_else(|| not_found(&req, "provider key"))?;
    Ok(HttpResponse::Ok().json(ProbeView::of(&check)))
}

/// `?validate=`: `true` or `false` (the default), and no other parameter.
pub(super) fn validate(req: &HttpRequest) -> Result<bool, ApiError> {
    query::flag(req, "validate")
}

/// The check of `?validate=true`: the record probed as written. A 401 or 403 to a probe made
/// without a key because the provider has none yet is no refusal: its key comes next.
pub(super) async fn passes(
    gateway: &Gateway,
    provider: Provider,
    new: bool,
) -> Result<(), BTreeMap<String, String>> {
    let probed = gateway.probe_record(&provider, new).await;
    let c = &probed.check;
    if c.ok || (probed.no_key_yet && matches!(c.status_code, Some(401 | 403))) {
        return Ok(());
    }
    Err(check_details(c))
}

/// What a check found, field → text (`null` where unknown), as error `details` hold it.
pub(super) fn check_details(c: &Check) -> BTreeMap<String, String> {
    let text = |v: Option<String>| v.unwrap_or_else(|| "null".to_owned());
    BTreeMap::from([
        ("ok".to_owned(), c.ok.to_string()),
        (
            "statusCode".to_owned(),
            text(c.status_code.map(|s| s.to_string())),
        ),
        (
            "latencyMs".to_owned(),
            text(c.latency_ms.map(|s| s.to_string())),
        ),
        (
            "modelsFound".to_owned(),
            text(c.models_found.map(|s| s.to_string())),
        ),
        ("error".to_owned(), text(c.error.clone())),
    ])
}

/// What a probe found; every field present, `null` where it is not known.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProviderProbe)]
pub(crate) struct ProbeView<'a> {
    /// Whether the model list came, and was one.
    ok: bool,
    /// The provider's HTTP status, when it answered.
    #[schema(required = true)]
    status_code: Option<u16>,
    /// From sending the probe to its answer (its last page), when one came.
    #[schema(required = true)]
    latency_ms: Option<u64>,
    /// How many models the list holds, when it was read.
    #[schema(required = true)]
    models_found: Option<u64>,
    /// Why it failed: modelgate's words, or the provider's (at most 512 characters, the key
    /// and anything shaped like a credential masked).
    #[schema(required = true)]
    error: Option<&'a str>,
}

impl<'a> ProbeView<'a> {
    fn of(c: &'a Check) -> ProbeView<'a> {
        ProbeView {
            ok: c.ok,
            status_code: c.status_code,
            latency_ms: c.latency_ms,
            models_found: c.models_found,
            error: c.error.as_deref(),
        }
    }
}
