//! The HTTP clients an attempt goes through: one per worker thread for providers with no
//! network settings of their own, one per network profile for the rest (`profile`), every one
//! resolving names through the outbound guard (`outbound`).

pub mod outbound;
pub mod profile;

use std::sync::Arc;
use std::time::Duration;

use super::error::{Code, GatewayError};
use super::table::Route;
use crate::secrets::MasterKey;
use outbound::{Guarded, Resolve};
use profile::{Clients, Profile};

/// Where the gateway's calls may go (`outbound`), and how it finds addresses.
pub struct Outbound {
    pub allow_private: bool,
    pub resolve: Resolve,
}

/// What the outbound check needs of a call's client: the rule it applies, and the proxy it
/// connects to instead of the provider, if any.
pub struct Guard {
    pub allow_private: bool,
    pub proxy: Option<url::Url>,
}

/// The upstream client, the one place one is built (one per worker thread, see
/// [`worker_client`]): connections are pooled and kept alive, HTTP/2 is used where the upstream
/// offers it (ALPN), and no socket waits on Nagle's algorithm. Redirects are not followed: a
/// redirect would carry the provider key to another host. Answers in gzip, br, deflate or zstd
/// are decoded by the attempt (`attempt::decode`), not here: the client's own decoding layer
/// cost every answer, most of which come unencoded. No proxy, whatever
/// the environment says: a provider goes through one only when it asks (`profile`).
pub fn client(resolve: Resolve, allow_private: bool) -> Result<reqwest::Client, reqwest::Error> {
    builder(resolve, allow_private).no_proxy().build()
}

/// [`client`]'s settings but its proxy, for a client that adds its own (`profile`): left as
/// it is, a builder takes the environment's proxy.
pub fn builder(resolve: Resolve, allow_private: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("modelgate/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guarded {
            resolve,
            allow_private,
        }))
}

/// The client a call to `route` goes through: this worker's, or, for a provider with a
/// network profile of its own (CA, certificate checking, proxy, outbound rule), that
/// profile's, built on the first call after the provider changed.
pub fn for_route(
    route: &Route,
    clients: &Clients,
    master_key: &MasterKey,
    allow_private: bool,
) -> Result<(reqwest::Client, Guard), GatewayError> {
    let Some(spec) = &route.calling.network else {
        let guard = Guard {
            allow_private,
            proxy: None,
        };
        return Ok((worker_client(clients.resolver(), allow_private)?, guard));
    };
    // Built once per version of the provider: the proxy password is opened then, not per call.
    let built = route.client.0.get_or_init(|| {
        let profile = Profile::of(spec, master_key, allow_private)?;
        let client = clients.get(&profile)?;
        Ok((client, profile.proxy_url()))
    });
    match built {
        Ok((client, proxy)) => Ok((
            reqwest::Client::clone(client),
            Guard {
                allow_private: spec.allow_private.unwrap_or(allow_private),
                proxy: proxy.clone(),
            },
        )),
        Err(why) => {
            log::warn!("provider `{}` cannot be called: {why}", route.slug);
            Err(GatewayError::new(
                Code::ProviderMisconfigured,
                format!("provider `{}` cannot be called: {why}", route.slug),
            ))
        }
    }
}

thread_local! {
    /// By `outbound.allow_private_networks` (a process may hold gateways of both, in tests).
    static CLIENT: [std::cell::OnceCell<reqwest::Client>; 2] =
        const { [std::cell::OnceCell::new(), std::cell::OnceCell::new()] };
}

/// The upstream client of this worker thread, built once per worker by [`client`]: its pooled
/// connections live on this worker's runtime, so a call never hops threads to reach its
/// connection (measured: +189 µs instead of +262 µs at concurrency 1, docs/benchmarks.md).
fn worker_client(resolve: &Resolve, allow_private: bool) -> Result<reqwest::Client, GatewayError> {
    CLIENT.with(|cells| {
        let cell = &cells[usize::from(allow_private)];
        if let Some(client) = cell.get() {
            return Ok(client.clone());
        }
        let client = client(Arc::clone(resolve), allow_private)
            .map_err(|e| GatewayError::new(Code::NoClient, format!("no upstream client: {e}")))?;
        Ok(cell.get_or_init(|| client).clone())
    })
}
