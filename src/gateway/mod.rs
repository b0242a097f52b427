//! The data plane's core: a model call's body resolved against the routing table, sent to the
//! provider with its key, and its answer handed back as a byte stream. Knows nothing of actix:
//! the HTTP layer (`http::proxy`) reads the request and writes the answer.

pub mod attempt;
mod body;
pub mod breaker;
pub mod calling;
mod commit;
pub mod cooldown;
pub mod error;
mod failover;
pub mod limiter;
pub mod outbound;
pub mod profile;
mod resolve;
mod send;
pub mod table;
pub mod upstream;
pub mod usage;
pub mod wire;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;

use crate::domain::surface::Surface;
use crate::secrets::MasterKey;
use breaker::Breakers;
use cooldown::Cooldowns;
use error::{GatewayError, Kind};
use profile::{Clients, Profile};
use table::{Route, RoutingTable, Snapshot};
use upstream::{Passed, Timeouts};
use usage::KeyUse;

pub use body::MAX_FALLBACK_MODELS;

pub struct Gateway {
    table: Arc<RoutingTable>,
    master_key: Arc<MasterKey>,
    timeouts: Timeouts,
    uses: Arc<KeyUse>,
    cooldowns: Cooldowns,
    breakers: Breakers,
    clients: Clients,
    /// `outbound.allow_private_networks`.
    allow_private: bool,
}

/// Where the gateway's calls may go (`outbound`), and how it finds addresses.
pub struct Outbound {
    pub allow_private: bool,
    pub resolve: outbound::Resolve,
}

/// What the outbound check needs of a call's client: the rule it applies, and the proxy it
/// connects to instead of the provider, if any.
pub struct Guard {
    pub allow_private: bool,
    pub proxy: Option<url::Url>,
}

/// A model call as the HTTP layer read it.
pub struct Call<'a> {
    pub surface: Surface,
    pub body: &'a [u8],
    pub passed: Passed,
    /// Whether other keys, providers and the body's fallback `models` may be tried when the
    /// first candidate fails (`x-modelgate-fallback: off` says no).
    pub fallback: bool,
}

/// An upstream's answer, on its way back.
pub struct Answer {
    pub status: u16,
    /// The upstream's headers that go back (content type, rate limits), as name and value.
    pub headers: Vec<(String, Vec<u8>)>,
    pub provider: String,
    pub model: String,
    pub streamed: bool,
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    /// Attempts made, this one included (a provider's retries count).
    pub attempts: u32,
    /// Candidates tried before this one's (other keys, providers, models).
    pub fallbacks: u32,
}

/// What a failed call had got to: the provider and model, once chosen, and how many
/// candidates it tried.
#[derive(Debug, Default, Clone)]
pub struct Chosen {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub attempts: u32,
    pub fallbacks: u32,
}

impl Gateway {
    /// Fails when no upstream client can be built (no TLS backend), so a server that starts
    /// can call out. `clock` times the rests of refused keys and the providers' breakers.
    pub fn new(
        table: Arc<RoutingTable>,
        master_key: Arc<MasterKey>,
        timeouts: Timeouts,
        uses: Arc<KeyUse>,
        clock: cooldown::Clock,
        outbound: Outbound,
    ) -> Result<Gateway, reqwest::Error> {
        upstream::client(Arc::clone(&outbound.resolve), outbound.allow_private)?;
        Ok(Gateway {
            table,
            master_key,
            timeouts,
            uses,
            cooldowns: Cooldowns::new(Arc::clone(&clock)),
            breakers: Breakers::new(clock),
            clients: Clients::new(outbound.resolve),
            allow_private: outbound.allow_private,
        })
    }

    /// The client a call to `route` goes through: this worker's, or, for a provider with a
    /// network profile of its own (CA, certificate checking, proxy, outbound rule), that
    /// profile's, built on the first call after the provider changed.
    fn client(&self, route: &Route) -> Result<(reqwest::Client, Guard), GatewayError> {
        let Some(spec) = &route.calling.network else {
            let guard = Guard {
                allow_private: self.allow_private,
                proxy: None,
            };
            return Ok((
                worker_client(self.clients.resolver(), self.allow_private)?,
                guard,
            ));
        };
        // Built once per version of the provider: the proxy password is opened then, not per call.
        let built = route.client.0.get_or_init(|| {
            let profile = Profile::of(spec, &self.master_key, self.allow_private)?;
            let client = self.clients.get(&profile)?;
            Ok((client, profile.proxy_url()))
        });
        match built {
            Ok((client, proxy)) => Ok((
                reqwest::Client::clone(client),
                Guard {
                    allow_private: spec.allow_private.unwrap_or(self.allow_private),
                    proxy: proxy.clone(),
                },
            )),
            Err(why) => {
                log::warn!("provider `{}` cannot be called: {why}", route.slug);
                Err(GatewayError::new(
                    Kind::Internal,
                    "provider_misconfigured",
                    format!("provider `{}` cannot be called: {why}", route.slug),
                ))
            }
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.table.snapshot()
    }
}

thread_local! {
    /// By `outbound.allow_private_networks` (a process may hold gateways of both, in tests).
    static CLIENT: [std::cell::OnceCell<reqwest::Client>; 2] =
        const { [std::cell::OnceCell::new(), std::cell::OnceCell::new()] };
}

/// The upstream client of this worker thread, built once per worker by [`upstream::client`]:
/// its pooled connections live on this worker's runtime, so a call never hops threads to reach
/// its connection (measured: +189 µs instead of +262 µs at concurrency 1, docs/benchmarks.md).
fn worker_client(
    resolve: &outbound::Resolve,
    allow_private: bool,
) -> Result<reqwest::Client, GatewayError> {
    CLIENT.with(|cells| {
        let cell = &cells[usize::from(allow_private)];
        if let Some(client) = cell.get() {
            return Ok(client.clone());
        }
        let client = upstream::client(Arc::clone(resolve), allow_private).map_err(|e| {
            GatewayError::new(
                Kind::Internal,
                "no_client",
                format!("no upstream client: {e}"),
            )
        })?;
        Ok(cell.get_or_init(|| client).clone())
    })
}

fn timed_out(route: &Route, budget: std::time::Duration) -> GatewayError {
    GatewayError::new(
        Kind::Timeout,
        "upstream_timeout",
        format!(
            "provider `{}` did not answer within {} s",
            route.slug,
            budget.as_secs_f64()
        ),
    )
}

fn unreachable(route: &Route, error: &reqwest::Error) -> GatewayError {
    // reqwest's message names the URL, which is the operator's configuration, not a secret;
    // the error chain's root says why (refused, reset, DNS).
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    log::warn!("provider `{}` unreachable: {error}: {cause}", route.slug);
    GatewayError::new(
        Kind::Unreachable,
        "upstream_unreachable",
        format!("provider `{}` could not be reached: {cause}", route.slug),
    )
}
