//! What a provider's settings mean for calling it, worked out once per change of the provider
//! (when the routing table takes it), so a call reads ready values: its timeouts, retries and
//! their backoff, headers to add (a credential's still sealed), whether it is called without a
//! key, its place in the provider's queue, and the network profile that picks its HTTP client.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use ulid::Ulid;
use zeroize::Zeroizing;

use crate::domain::Provider;
use crate::domain::settings::{self, Network, Proxy, ProxyKind};
use crate::domain::surface::Surface;
use crate::gateway::error::{Code, GatewayError};
use crate::secrets::MasterKey;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Calling {
    /// Per attempt; `None`: the gateway's.
    pub request_timeout: Option<Duration>,
    /// Between two chunks of a stream; `None`: the gateway's.
    pub idle_timeout: Option<Duration>,
    pub max_retries: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// The extra headers in the clear.
    pub extra_headers: HeaderMap,
    /// The credential headers, opened for each call as its key is: the routing table holds no
    /// secret in the clear.
    pub sealed_headers: Vec<(HeaderName, settings::HeaderValue)>,
    /// The provider's id, which its sealed headers are bound to.
    pub provider: Ulid,
    pub keyless: bool,
    /// (concurrency, queue) when the provider bounds its calls; the queue itself is the
    /// provider's runtime state (`gateway::state`).
    pub queue: Option<(u32, u32)>,
    /// `None`: the gateway's shared client will do.
    pub network: Option<Arc<NetworkSpec>>,
    pub path_overrides: Vec<(Surface, String)>,
    /// `requestPathOverrides.models`: where the provider's probe reads its model list.
    pub models_path: Option<String>,
}

/// What picks an HTTP client other than the shared one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// The provider's id, which its proxy password is sealed for.
    pub provider: Ulid,
    pub ca_pem: Option<String>,
    pub insecure: bool,
    pub proxy: Option<Proxy>,
    pub allow_private: Option<bool>,
}

impl Calling {
    pub fn of(provider: &Provider) -> Calling {
        let s = &provider.settings;
        let n = s.network.clone().unwrap_or_default();
        let secs = |v: Option<u32>| v.map(|s| Duration::from_secs(u64::from(s)));
        let ms = |v: Option<u32>, default| Duration::from_millis(u64::from(v.unwrap_or(default)));
        let insecure = n.insecure_skip_verify.unwrap_or(false);
        if insecure {
            // Said whenever the routing table takes the provider: at start and on each change.
            log::warn!(
                "provider `{}` has network.insecureSkipVerify: the certificates of its TLS \
                 connections are not checked, and anyone on the path can read its traffic",
                provider.provider_id.as_str()
            );
        }
        let own_proxy = s.proxy.clone();
        if own_proxy.as_ref().map(|p| p.kind) == Some(ProxyKind::Environment) {
            // The only providers the environment's proxy carries; said like the warning above.
            log::info!(
                "provider `{}` goes through the environment's proxy ({})",
                provider.provider_id.as_str(),
                environment_proxy()
            );
        }
        let network = (n.ca_cert_pem.is_some()
            || insecure
            || own_proxy.is_some()
            || s.allow_private_network.is_some())
        .then(|| {
            Arc::new(NetworkSpec {
                provider: provider.id,
                ca_pem: n.ca_cert_pem.clone(),
                insecure,
                proxy: own_proxy,
                allow_private: s.allow_private_network,
            })
        });
        Calling {
            request_timeout: secs(n.request_timeout_secs),
            idle_timeout: secs(n.stream_idle_timeout_secs),
            max_retries: n.max_retries.unwrap_or(0),
            backoff_initial: ms(
                n.retry_backoff_initial_ms,
                Network::DEFAULT_BACKOFF_INITIAL_MS,
            ),
            backoff_max: ms(n.retry_backoff_max_ms, Network::DEFAULT_BACKOFF_MAX_MS),
            extra_headers: headers(provider, &n),
            sealed_headers: sealed_headers(provider, &n),
            provider: provider.id,
            keyless: s.keyless.unwrap_or(false),
            queue: s.queue(),
            network,
            path_overrides: s
                .path_overrides
                .iter()
                .filter_map(|(name, path)| {
                    let surface = Surface::ALL.into_iter().find(|s| s.name() == name)?;
                    Some((surface, path.clone()))
                })
                .collect(),
            models_path: s.path_overrides.get(settings::MODELS_PATH).cloned(),
        }
    }

    /// The wait before retry number `retry` (0 for the first): doubling from the initial wait
    /// up to the most, then a random point in its upper half, so that callers failed by the
    /// same outage do not all come back in the same instant.
    pub fn backoff(&self, retry: u32) -> Duration {
        let full = self
            .backoff_initial
            .saturating_mul(1 << retry.min(16))
            .min(self.backoff_max);
        let mut byte = [0u8; 1];
        let share = match getrandom::fill(&mut byte) {
            Ok(()) => f64::from(byte[0]) / 255.0,
            Err(_) => 1.0,
        };
        full.mul_f64(0.5 + share / 2.0)
    }

    /// Adds the extra headers to a call's, the sealed ones opened with `master`; answers the
    /// credentials' values it sent, for the attempt's scrub to mask in what comes back.
    pub fn add_headers(
        &self,
        to: &mut HeaderMap,
        master: &MasterKey,
        slug: &str,
    ) -> Result<Vec<Zeroizing<String>>, GatewayError> {
        let mut secrets = Vec::with_capacity(self.sealed_headers.len());
        for (name, value) in &self.extra_headers {
            to.insert(name.clone(), value.clone());
            // A credential's value still in the clear, until start-up seals it.
            if value.is_sensitive()
                && let Ok(value) = value.to_str()
            {
                secrets.push(Zeroizing::new(value.to_owned()));
            }
        }
        for (name, sealed) in &self.sealed_headers {
            let opened = sealed
                .open(master, self.provider, name.as_str())
                .ok()
                .and_then(|v| Some((HeaderValue::from_str(&v).ok()?, v)));
            let Some((mut value, secret)) = opened else {
                let why = format!(
                    "provider `{slug}` cannot be called: its extra header `{name}` cannot be \
                     opened with this master key"
                );
                log::warn!("{why}");
                return Err(GatewayError::new(Code::ProviderMisconfigured, why));
            };
            value.set_sensitive(true);
            to.insert(name.clone(), value);
            secrets.push(secret);
        }
        Ok(secrets)
    }

    pub fn path_override(&self, surface: Surface) -> Option<&str> {
        self.path_overrides
            .iter()
            .find(|(s, _)| *s == surface)
            .map(|(_, p)| p.as_str())
    }
}

/// Which of the proxy variables reqwest reads are set, by name: their values may hold a
/// proxy's password.
fn environment_proxy() -> String {
    let set: Vec<&str> = [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ]
    .into_iter()
    .filter(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
    .collect();
    match set.is_empty() {
        true => "none of ALL_PROXY, HTTPS_PROXY, HTTP_PROXY is set: it is called directly".into(),
        false => format!("{} set", set.join(", ")),
    }
}

/// The extra headers, as checked when they were written; one that no longer parses (a rule
/// loosened since) is left out with a warning rather than failing every call.
fn headers(provider: &Provider, n: &Network) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in &n.extra_headers {
        let settings::HeaderValue::Plain(value) = value else {
            continue;
        };
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(mut value)) => {
                // Only until start-up seals it: a value an earlier store format kept in clear.
                value.set_sensitive(settings::is_credential(name.as_str()));
                map.insert(name, value);
            }
            _ => log::warn!(
                "provider `{}`: extra header `{name}` is not a valid header; not sent",
                provider.provider_id.as_str()
            ),
        }
    }
    map
}

fn sealed_headers(provider: &Provider, n: &Network) -> Vec<(HeaderName, settings::HeaderValue)> {
    n.extra_headers
        .iter()
        .filter(|(_, value)| matches!(value, settings::HeaderValue::Sealed(_)))
        .filter_map(
            |(name, value)| match HeaderName::from_bytes(name.as_bytes()) {
                Ok(header) => Some((header, value.clone())),
                Err(_) => {
                    log::warn!(
                        "provider `{}`: extra header `{name}` is not a valid header; not sent",
                        provider.provider_id.as_str()
                    );
                    None
                }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_most_and_stays_in_the_upper_half() {
        let c = Calling {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            ..Calling::default()
        };
        for (retry, full) in [(0, 100), (1, 200), (2, 400), (3, 500), (30, 500)] {
            for _ in 0..20 {
                let d = c.backoff(retry).as_millis();
                assert!(d >= full / 2 && d <= full, "retry {retry}: {d} ms");
            }
        }
    }
}
