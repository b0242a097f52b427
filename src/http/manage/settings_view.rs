//! A provider's `network` and `proxy` settings as answers show them: only what is set, a
//! proxy password only as `********`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::settings::{Network, Proxy, REDACTED};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    request_timeout_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_idle_timeout_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_backoff_initial_ms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_backoff_max_ms: Option<u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extra_headers: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_cert_pem: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    insecure_skip_verify: Option<bool>,
}

#[derive(Serialize)]
pub(crate) struct ProxyView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'static str>,
}

impl<'a> NetworkView<'a> {
    pub(crate) fn new(n: &'a Network) -> NetworkView<'a> {
        NetworkView {
            request_timeout_seconds: n.request_timeout_secs,
            stream_idle_timeout_seconds: n.stream_idle_timeout_secs,
            max_retries: n.max_retries,
            retry_backoff_initial_ms: n.retry_backoff_initial_ms,
            retry_backoff_max_ms: n.retry_backoff_max_ms,
            extra_headers: &n.extra_headers,
            ca_cert_pem: n.ca_cert_pem.as_deref(),
            insecure_skip_verify: n.insecure_skip_verify,
        }
    }
}

impl<'a> ProxyView<'a> {
    pub(crate) fn new(p: &'a Proxy) -> ProxyView<'a> {
        ProxyView {
            kind: p.kind.name(),
            url: p.url.as_deref(),
            username: p.username.as_deref(),
            password: p.password.as_ref().map(|_| REDACTED),
        }
    }
}
