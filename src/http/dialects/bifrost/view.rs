//! A provider as Bifrost's `ProviderResponse` shows it, and the list of them.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::names::{self, REQUEST_TYPES};
use crate::domain::Provider;
use crate::domain::extension::Extension;
use crate::domain::settings::{Network, NetworkBody, ProxyBody};
use crate::gateway::Gateway;
use crate::gateway::health::status::Status;

#[derive(Serialize, ToSchema)]
#[schema(as = BifrostListProvidersResponse)]
pub struct List {
    pub providers: Vec<View>,
    pub total: usize,
}

/// Bifrost's `ProviderResponse`.
#[derive(Serialize, ToSchema)]
#[schema(as = BifrostProviderResponse)]
pub struct View {
    name: String,
    network_config: NetworkView,
    concurrency_and_buffer_size: ConcurrencyView,
    proxy_config: Option<ProxyView>,
    send_back_raw_request: bool,
    send_back_raw_response: bool,
    store_raw_request_response: bool,
    custom_provider_config: CustomView,
    /// Bifrost's provider status (`active`, `error`), from health.
    #[schema(value_type = String)]
    provider_status: &'static str,
    /// As seed 002 lists it: `active` or `error` (`deleted` only in a delete's answer).
    #[schema(value_type = String)]
    status: &'static str,
    /// What went wrong, when the last check failed (`list_models_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    config_hash: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = BifrostNetworkConfig)]
struct NetworkView {
    base_url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extra_headers: BTreeMap<String, String>,
    default_request_timeout_in_seconds: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_idle_timeout_in_seconds: Option<u32>,
    max_retries: u32,
    retry_backoff_initial: u32,
    retry_backoff_max: u32,
    insecure_skip_verify: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_cert_pem: Option<String>,
    allow_private_network: bool,
}

#[derive(Serialize, ToSchema)]
#[schema(as = BifrostConcurrencyAndBufferSize)]
struct ConcurrencyView {
    concurrency: u32,
    buffer_size: u32,
}

#[derive(Serialize, ToSchema)]
#[schema(as = BifrostProxyConfig)]
struct ProxyView {
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = BifrostCustomProviderConfig)]
struct CustomView {
    base_provider_type: String,
    is_key_less: bool,
    #[schema(value_type = BTreeMap<String, bool>)]
    allowed_requests: BTreeMap<&'static str, bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    request_path_overrides: BTreeMap<String, String>,
}

/// The API format a provider's surfaces are in (OpenAI's when it declares none).
pub fn format_of(p: &Provider) -> &'static str {
    match p.surfaces.first().map(|s| s.format.as_str()) {
        Some("anthropic") => "anthropic",
        _ => "openai",
    }
}

/// A hash of what is stored of the provider and its extension: the same bytes give the same
/// hash after a restart, and every write that changes the record changes its version, so the
/// hash. Sealed secrets are hashed as stored (sealed), never in the clear.
pub fn config_hash(p: &Provider, ext: &Extension) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(p).unwrap_or_default());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(ext).unwrap_or_default());
    hex::encode(&hasher.finalize()[..16])
}

/// Each request type's flag, as the stored surfaces and extension say.
fn allowed(p: &Provider, ext: &Extension) -> BTreeMap<&'static str, bool> {
    let format = format_of(p);
    REQUEST_TYPES
        .iter()
        .map(|&request| {
            let plain = request.strip_suffix("_stream").unwrap_or(request);
            let on = match names::surface_of(plain, format) {
                Some(surface) => {
                    let served = p.surfaces.iter().any(|s| {
                        s.format == format && s.surface.as_deref().is_none_or(|n| n == surface)
                    }) || p.surfaces.is_empty();
                    served && (plain == request || !ext.no_stream.contains(surface))
                }
                None => ext.other_requests.get(request).copied().unwrap_or(false),
            };
            (request, on)
        })
        .collect()
}

impl View {
    pub fn of(p: &Provider, ext: &Extension, gateway: &Gateway) -> View {
        let network = p.settings.network.clone().unwrap_or_default();
        let shown = NetworkBody::answer(&network);
        let health = gateway.health_of(p.id);
        let failed = health
            .as_ref()
            .is_some_and(|h| h.consecutive_failures > 0 && h.last_error.is_some());
        let status = match health.map(|h| h.status) {
            Some(Status::Offline) => "error",
            _ => "active",
        };
        View {
            name: p.provider_id.as_str().to_owned(),
            network_config: NetworkView {
                base_url: p.base_url.clone(),
                extra_headers: shown.extra_headers.unwrap_or_default(),
                default_request_timeout_in_seconds: network.request_timeout_secs.unwrap_or(0),
                stream_idle_timeout_in_seconds: network.stream_idle_timeout_secs,
                max_retries: network.max_retries.unwrap_or(0),
                retry_backoff_initial: network
                    .retry_backoff_initial_ms
                    .unwrap_or(Network::DEFAULT_BACKOFF_INITIAL_MS),
                retry_backoff_max: network
                    .retry_backoff_max_ms
                    .unwrap_or(Network::DEFAULT_BACKOFF_MAX_MS),
                insecure_skip_verify: network.insecure_skip_verify.unwrap_or(false),
                ca_cert_pem: network.ca_cert_pem.clone(),
                allow_private_network: p.settings.allow_private_network.unwrap_or(false),
            },
            concurrency_and_buffer_size: ConcurrencyView {
                concurrency: p.settings.concurrency.unwrap_or(0),
                buffer_size: p
                    .settings
                    .buffer_size
                    .or(p.settings.concurrency)
                    .unwrap_or(0),
            },
            proxy_config: p.settings.proxy.as_ref().map(|proxy| {
                let shown = ProxyBody::answer(proxy);
                ProxyView {
                    kind: shown.kind.unwrap_or_default(),
                    url: shown.url,
                    username: shown.username,
                    password: shown
                        .password
                        .map(|_| crate::domain::settings::REDACTED.to_owned()),
                }
            }),
            send_back_raw_request: ext.send_back_raw_request,
            send_back_raw_response: ext.send_back_raw_response,
            store_raw_request_response: ext.store_raw_request_response,
            custom_provider_config: CustomView {
                base_provider_type: ext
                    .base_provider_type
                    .clone()
                    .unwrap_or_else(|| format_of(p).to_owned()),
                is_key_less: p.settings.keyless.unwrap_or(false),
                allowed_requests: allowed(p, ext),
                request_path_overrides: p
                    .settings
                    .path_overrides
                    .iter()
                    .filter_map(|(k, v)| {
                        names::override_request(k).map(|r| (r.to_owned(), v.clone()))
                    })
                    .collect(),
            },
            provider_status: status,
            status,
            description: failed.then(|| "list_models_failed".to_owned()),
            config_hash: config_hash(p, ext),
        }
    }
}
