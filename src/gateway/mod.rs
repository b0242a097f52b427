//! The data plane's core: a model call's body resolved against the routing table, sent to the
//! provider with its key, and its answer handed back as a byte stream. Knows nothing of actix:
//! the HTTP layer (`http::proxy`) reads the request and writes the answer.
//!
//! One folder per stage a call goes through: `plan` (the body, resolving its models, the
//! candidates and their credentials), `call` (the loop over them within the call's time),
//! `attempt` (one upstream request, its queue slot, its stream's commit point and watch),
//! `client` (HTTP clients and the outbound guard), `policy` (what each failure means), `table`
//! (the routing snapshot), `state` (what the gateway learns of each provider as it runs) and
//! `error` (codes and their wire shapes). Beside the call, `probe` reads a provider's model
//! list the way a call would reach it (`POST /providers/{id}/test`, and the background checks
//! of `probe::schedule`), and `health` keeps what each check found and tells a status.

pub mod attempt;
mod call;
pub mod client;
pub mod error;
pub mod health;
pub mod meter;
pub mod plan;
pub mod policy;
pub mod probe;
pub mod state;
pub mod table;
pub mod translate;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};

use crate::domain::surface::Surface;
use crate::secrets::MasterKey;
use attempt::request::Passed;
use client::Outbound;
use client::profile::Clients;
use policy::clock::Clock;
use policy::cooldown::Cooldowns;
use table::{RoutingTable, Snapshot};
use usage::KeyUse;

pub use plan::body::MAX_FALLBACK_MODELS;

pub struct Gateway {
    table: Arc<RoutingTable>,
    master_key: Arc<MasterKey>,
    timeouts: Timeouts,
    uses: Arc<KeyUse>,
    clock: Clock,
    cooldowns: Cooldowns,
    clients: Clients,
    /// `outbound.allow_private_networks`.
    allow_private: bool,
    /// How long a probe of a provider may take (`gateway.probe_timeout_ms`).
    probe_timeout: Duration,
    /// Where each attempt's usage event goes; `None` records nothing.
    recorder: Option<Arc<meter::Recorder>>,
    /// What each model's tokens cost (`[prices]`).
    prices: crate::domain::usage::Prices,
    /// `usage.inject_stream_usage`: OpenAI-format streams asked for their usage.
    inject_stream_usage: bool,
    /// Background checks, the clock and store of health (`health`).
    health: health::Health,
}

/// How long an answer may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To the answer's head, and for an answer that is not streamed, to its end.
    pub attempt: Duration,
    /// Between two chunks of a streamed answer.
    pub idle: Duration,
    /// For the whole call, over every attempt.
    pub total: Duration,
    /// For a stream after its first content.
    pub stream: Duration,
}

/// Who and what a call is, for every line it logs: never the caller's token.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The call's `x-modelgate-request-id`.
    pub request_id: String,
    /// The id of the credential the caller presented (`admin`, a token's name).
    pub caller: String,
    /// The access key configuration that scopes the caller; `None`: allow-all.
    pub configuration: Option<ulid::Ulid>,
}

/// A model call as the HTTP layer read it.
pub struct Call<'a> {
    pub surface: Surface,
    pub body: &'a [u8],
    pub passed: Passed,
    /// Whether other keys, providers and the body's fallback `models` may be tried when the
    /// first candidate fails (`x-modelgate-fallback: off` says no).
    pub fallback: bool,
    /// Whether a translated call drops what the provider's format cannot express, rather
    /// than being refused (`x-modelgate-translation: lenient`).
    pub lenient: bool,
    pub context: CallContext,
}

/// An upstream's answer, on its way back.
pub struct Answer {
    pub status: u16,
    /// The upstream's headers that go back (content type, rate limits), as the client got
    /// them: cloning these shares their bytes.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub streamed: bool,
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    /// The provider and model that answered, and the attempts it took.
    pub chosen: Chosen,
    /// A translated answer's body is the upstream's until the call loop has put the meter on
    /// it: this turns it into the caller's. Always `None` in what a call returns.
    pub(in crate::gateway) pending: Option<attempt::Pending>,
    /// What of its attempt the answer carries back (Bifrost's `send_back_raw_*`), attached by
    /// the call loop after the meter and any translation. Always `None` in what a call
    /// returns.
    pub(in crate::gateway) raw: Option<attempt::Raw>,
    /// The body sent upstream, scrubbed, for the usage event of a provider that keeps its
    /// bodies (Bifrost's `store_raw_request_response`). Always `None` in what a call returns.
    pub(in crate::gateway) stored: Option<bytes::Bytes>,
}

/// What a call had got to: the provider and model, once chosen, and how many attempts and
/// candidates it took.
#[derive(Debug, Default, Clone)]
pub struct Chosen {
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Attempts made, the last one included (a provider's retries count).
    pub attempts: u32,
    /// Candidates tried before the last one's (other keys, providers, models).
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
        clock: Clock,
        outbound: Outbound,
    ) -> Result<Gateway, reqwest::Error> {
        client::client(Arc::clone(&outbound.resolve), outbound.allow_private)?;
        Ok(Gateway {
            table,
            master_key,
            timeouts,
            uses,
            cooldowns: Cooldowns::new(Arc::clone(&clock)),
            clock,
            clients: Clients::new(outbound.resolve),
            allow_private: outbound.allow_private,
            probe_timeout: probe::DEFAULT_TIMEOUT,
            recorder: None,
            prices: Default::default(),
            inject_stream_usage: true,
            health: health::Health::default(),
        })
    }

    /// The most a probe of a provider may take (10 s unless set).
    pub fn with_probe_timeout(mut self, timeout: Duration) -> Gateway {
        self.probe_timeout = timeout;
        self
    }

    /// Prices usage events' tokens at `prices`.
    pub fn with_prices(mut self, prices: crate::domain::usage::Prices) -> Gateway {
        self.prices = prices;
        self
    }

    /// Whether OpenAI-format streams whose callers did not ask for their usage are asked
    /// for it, to be counted (on unless turned off).
    pub fn with_stream_usage(mut self, inject: bool) -> Gateway {
        self.inject_stream_usage = inject;
        self
    }

    /// Records each attempt's usage event through `recorder`.
    pub fn with_recorder(mut self, recorder: Arc<meter::Recorder>) -> Gateway {
        self.recorder = Some(recorder);
        self
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.table.snapshot()
    }

    /// The rest provider key `id` is in at its `version`, with the wall-clock time it ends
    /// (ms since the epoch): read from the data plane's memory, so it is what calls see now.
    pub fn key_rest(&self, id: ulid::Ulid, version: u64) -> Option<(policy::cooldown::Rest, u64)> {
        let rest = self.cooldowns.rest_of((id, version))?;
        Some((rest, self.wall_ms() + rest.left.as_millis() as u64))
    }

    /// The timeouts of the config file (or the built-in defaults): what stands for a
    /// `/gateway-config` timeout never written.
    pub fn file_timeouts(&self) -> Timeouts {
        self.timeouts
    }
}
