//! The data plane's core: a model call's body resolved against the routing table, sent to the
//! provider with its key, and its answer handed back as a byte stream. Knows nothing of actix:
//! the HTTP layer (`http::proxy`) reads the request and writes the answer.

pub mod attempt;
mod body;
pub mod breaker;
mod commit;
pub mod cooldown;
pub mod error;
mod failover;
mod resolve;
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
    /// Candidates tried, this one included.
    pub attempts: u32,
}

/// What a failed call had got to: the provider and model, once chosen, and how many
/// candidates it tried.
#[derive(Debug, Default, Clone)]
pub struct Chosen {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub attempts: u32,
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
    ) -> Result<Gateway, reqwest::Error> {
        upstream::client()?;
        Ok(Gateway {
            table,
            master_key,
            timeouts,
            uses,
            cooldowns: Cooldowns::new(Arc::clone(&clock)),
            breakers: Breakers::new(clock),
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.table.snapshot()
    }
}

thread_local! {
    static CLIENT: std::cell::OnceCell<reqwest::Client> = const { std::cell::OnceCell::new() };
}

/// The upstream client of this worker thread, built once per worker by [`upstream::client`]:
/// its pooled connections live on this worker's runtime, so a call never hops threads to reach
/// its connection (measured: +189 µs instead of +262 µs at concurrency 1, docs/benchmarks.md).
fn worker_client() -> Result<reqwest::Client, GatewayError> {
    CLIENT.with(|cell| {
        if let Some(client) = cell.get() {
            return Ok(client.clone());
        }
        let client = upstream::client().map_err(|e| {
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
