//! The probe of a provider: its model list read with one of its keys, to tell whether the
//! provider answers and takes the key. It goes out as a model call would — the provider's
//! client (network profile: CA, certificate checking, proxy), the outbound guard, its extra
//! headers, its request timeout — so it reaches nothing a model call could not; it takes no
//! queue slot and never moves a key's `lastUsed`. The model list is the base URL joined with
//! `/models` as calls are joined (`requestPathOverrides.models` in its place): OpenAI's one
//! page, or Anthropic's pages (`?limit=1000`, then `after_id` its `last_id` while `has_more`).
//! What it found is a [`Check`]; one of a registered provider is kept in its runtime state.

pub mod discover;
pub mod schedule;
pub mod text;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::time::Instant;
use ulid::Ulid;

use super::Gateway;
use super::attempt::request::{self, Passed};
use super::attempt::{decode, scrub::Scrub};
use super::client::{self, outbound};
use super::state::Check;
use super::table::Route;
use crate::domain::surface::{Format, Surface};
use crate::domain::{Provider, ProviderKey};

/// How long a probe may take, all pages included, unless the provider's request timeout is
/// shorter.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Anthropic's pages a probe reads at most: 100 000 models.
const MAX_PAGES: usize = 100;
/// The model ids a probe keeps at most (it counts them all): as many as Anthropic's pages
/// hold, far past what a provider may declare.
pub const MAX_IDS: usize = MAX_PAGES * 1000;
/// The largest page read; a list that size has far more models than any provider serves.
const MAX_PAGE_BYTES: usize = 16 << 20;

/// A probe's [`Check`], and whether it went without a key because the provider has none yet
/// (not because it is keyless): a 401 or 403 then says nothing against the provider.
pub struct Probed {
    pub check: Check,
    pub no_key_yet: bool,
}

/// The credential a probe goes with.
enum Using<'k> {
    Key(&'k ProviderKey),
    /// None: keyless, or no key yet (`no_key_yet`).
    Nothing {
        no_key_yet: bool,
    },
    /// Keys, none of which can be opened now.
    Unusable,
}

impl Gateway {
    /// Probes the registered provider `id` with its newest usable key and keeps the check in
    /// its state; `None` when the routing table has no such provider.
    pub async fn probe_provider(&self, id: Ulid) -> Option<Check> {
        let snapshot = self.snapshot();
        let slug = snapshot.slug_of(id)?;
        let route = Arc::clone(snapshot.route(slug)?);
        drop(snapshot);
        Some(self.probe_route(&route).await)
    }

    /// Probes `route` (registered or catalog) with its newest usable key, and keeps the check.
    pub async fn probe_route(&self, route: &Route) -> Check {
        let keys = self.snapshot().keys(&route.slug);
        let probed = self.probe(route, self.newest(route, &keys)).await;
        self.keep(route, &probed.check).await;
        probed.check
    }

    /// Probes the provider of key `id` with that key, and keeps the check in the provider's
    /// state; `None` when the routing table has no such key.
    pub async fn probe_key(&self, id: Ulid) -> Option<Check> {
        let snapshot = self.snapshot();
        let slug = snapshot.key_owner(id)?;
        let route = Arc::clone(snapshot.route(slug)?);
        let key = snapshot.keys(slug).into_iter().find(|k| k.id == id)?;
        // A keyless provider's calls carry no key: neither does its probe.
        let using = match route.calling.keyless {
            true => Using::Nothing { no_key_yet: false },
            false => Using::Key(&key),
        };
        let probed = self.probe(&route, using).await;
        self.keep(&route, &probed.check).await;
        Some(probed.check)
    }

    /// Probes `provider` as written, before it is (`?validate=true`). A change of a stored
    /// provider goes with the newest usable key its `providerId` has; a new one with none,
    /// even when its `providerId` is taken (the create is refused later), so that no stored
    /// key is sent to a base URL the body names. Kept nowhere: the record may never be stored.
    pub async fn probe_record(&self, provider: &Provider, new: bool) -> Probed {
        let route = Route::unpublished(provider);
        let keys = match new {
            true => Vec::new(),
            false => self.snapshot().keys(provider.provider_id.as_str()),
        };
        self.probe(&route, self.newest(&route, &keys)).await
    }

    /// [`Gateway::probe_record`] with `key`, a key not written yet (AgentStack's create).
    pub async fn probe_record_with(&self, provider: &Provider, key: &ProviderKey) -> Probed {
        let route = Route::unpublished(provider);
        self.probe(&route, Using::Key(key)).await
    }

    fn newest<'k>(&self, route: &Route, keys: &'k [Arc<ProviderKey>]) -> Using<'k> {
        if route.calling.keyless {
            return Using::Nothing { no_key_yet: false };
        }
        if keys.is_empty() {
            return Using::Nothing { no_key_yet: true };
        }
        // Newest first: the one a rotation or a new key has just put in.
        match keys.iter().find(|k| k.reveal(&self.master_key).is_ok()) {
            Some(key) => Using::Key(key),
            None => Using::Unusable,
        }
    }

    async fn probe(&self, route: &Route, using: Using<'_>) -> Probed {
        self.probe_listing(route, using).await.0
    }

    /// [`Gateway::probe`], with the model ids the list held (empty when it failed).
    async fn probe_listing(&self, route: &Route, using: Using<'_>) -> (Probed, Ids) {
        let no_key_yet = matches!(using, Using::Nothing { no_key_yet: true });
        let key_id = match &using {
            Using::Key(k) => Some(k.id),
            _ => None,
        };
        let mut check = Check {
            at_ms: 0,
            key: key_id,
            ok: false,
            status_code: None,
            latency_ms: None,
            models_found: None,
            error: None,
            down: false,
        };
        let mut ids = Ids::default();
        match self.read_models(route, using, &mut check, &mut ids).await {
            Ok(count) => {
                check.ok = true;
                check.models_found = Some(count);
            }
            Err(why) => {
                check.error = Some(text::cut(why));
                ids = Ids::default();
            }
        }
        check.at_ms = self.wall_ms();
        (Probed { check, no_key_yet }, ids)
    }

    /// Counts the models the provider lists, keeping their ids in `ids`, filling in `check`'s
    /// status and latency as they become known; or why it could not.
    async fn read_models(
        &self,
        route: &Route,
        using: Using<'_>,
        check: &mut Check,
        ids: &mut Ids,
    ) -> Result<u64, String> {
        let key = match using {
            Using::Key(key) => Some(
                key.reveal(&self.master_key)
                    .map_err(|e| format!("provider key {} cannot be used now: {e}", key.id))?,
            ),
            Using::Nothing { .. } => None,
            Using::Unusable => {
                return Err(
                    "the provider has no key that can be used now (an env.NAME key \
                            needs its variable set in modelgate's environment)"
                        .into(),
                );
            }
        };
        let format = format_of(route);
        let url = models_url(route).map_err(|e| e.message.clone())?;
        let mut headers = request::headers(
            format,
            key.as_deref().map(String::as_str),
            &Passed::default(),
        )
        .map_err(|e| e.message.clone())?;
        // A GET sends no body to type.
        headers.remove(CONTENT_TYPE);
        let opened = route
            .calling
            .add_headers(&mut headers, &self.master_key, &route.slug)
            .map_err(|e| e.message.clone())?;
        let scrub = Scrub::new(key, opened);
        let (client, guard) =
            client::for_route(route, &self.clients, &self.master_key, self.allow_private)
                .map_err(|e| e.message.clone())?;
        // As for a model call: a host written as an address meets no resolver.
        let dialed = guard.proxy.as_ref().unwrap_or(&url);
        if let Some(refused) =
            outbound::literal(dialed).and_then(|ip| outbound::check(ip, guard.allow_private).err())
        {
            return Err(format!("may not be called: {refused}"));
        }
        let budget = route
            .calling
            .request_timeout
            .map_or(self.probe_timeout, |t| t.min(self.probe_timeout));
        let started = Instant::now();
        let deadline = started + budget;
        let timed_out = || {
            format!(
                "the model list did not come within {} ms",
                budget.as_millis()
            )
        };
        let mut count = 0u64;
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_url = url.clone();
            if format == Format::Anthropic {
                let mut query = page_url.query_pairs_mut();
                query.append_pair("limit", "1000");
                if let Some(after) = &after {
                    query.append_pair("after_id", after);
                }
            }
            let page = page(&client, page_url, &headers, deadline);
            let (status, body) = match page.await {
                Ok(answer) => answer,
                Err(Missed::TimedOut) => {
                    check.down = true;
                    return Err(timed_out());
                }
                Err(Missed::Send(e)) => {
                    return Err(match outbound::refusal_in(&e) {
                        Some(refused) => format!("may not be called: {refused}"),
                        None => {
                            check.down = true;
                            let why = text::cleaned(&scrub, &scrub.described(e).1);
                            format!("could not be reached: {why}")
                        }
                    });
                }
                Err(Missed::Body(status, why)) => {
                    check.status_code = Some(status);
                    check.down = true;
                    let why = text::cleaned(&scrub, &why);
                    return Err(format!("the model list could not be read: {why}"));
                }
            };
            check.status_code = Some(status);
            check.latency_ms =
                Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            if !(200..300).contains(&status) {
                check.down = status >= 500;
                let said = String::from_utf8_lossy(&body);
                return Err(match said.trim() {
                    "" => format!("the provider answered {status} with no body"),
                    said => text::cleaned(&scrub, said),
                });
            }
            let list: List = serde_json::from_slice(&body).map_err(|e| {
                let why = text::cleaned(&scrub, &e.to_string());
                format!("the answer is not a model list (JSON with a `data` array): {why}")
            })?;
            count += list.data.len() as u64;
            ids.take(list.data);
            if format == Format::OpenAi || !list.has_more {
                return Ok(count);
            }
            match list.last_id {
                Some(last) if after.as_deref() != Some(last.as_str()) => after = Some(last),
                _ => {
                    return Err(
                        "the model list says `has_more` without a new `last_id` to go \
                                on from"
                            .into(),
                    );
                }
            }
        }
        Err(format!(
            "the model list goes on past {MAX_PAGES} pages of 1000"
        ))
    }
}

/// What a model list says, OpenAI's or Anthropic's: its entries are counted, whatever they
/// are, and the `id` of those that have one kept.
#[derive(Deserialize)]
struct List {
    data: Vec<Entry>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Model { id: String },
    Other(IgnoredAny),
}

/// The model ids a list held, in its order, each once, up to [`MAX_IDS`].
#[derive(Debug, Default)]
pub struct Ids {
    pub ids: Vec<String>,
    /// Ids past [`MAX_IDS`] were left out.
    pub cut: bool,
    seen: std::collections::HashSet<String>,
}

impl Ids {
    fn take(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            let Entry::Model { id } = entry else { continue };
            if self.seen.contains(&id) {
                continue;
            }
            if self.ids.len() == MAX_IDS {
                self.cut = true;
                return;
            }
            self.seen.insert(id.clone());
            self.ids.push(id);
        }
    }
}

enum Missed {
    TimedOut,
    Send(reqwest::Error),
    /// An answer came whose body could not be read whole.
    Body(u16, String),
}

/// One page: its status and body, read within `deadline` and [`MAX_PAGE_BYTES`].
async fn page(
    client: &reqwest::Client,
    url: url::Url,
    headers: &HeaderMap,
    deadline: Instant,
) -> Result<(u16, Vec<u8>), Missed> {
    let request = client.get(url).headers(headers.clone());
    let response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Err(Missed::TimedOut),
        Ok(Err(e)) if e.is_timeout() => return Err(Missed::TimedOut),
        Ok(Err(e)) => return Err(Missed::Send(e)),
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let coding = decode::coding(response.headers());
    let mut chunks = decode::decoded(coding, response.bytes_stream());
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, chunks.next()).await {
            Err(_) => return Err(Missed::TimedOut),
            Ok(None) => return Ok((status, body)),
            Ok(Some(Err(e))) => return Err(Missed::Body(status, e.kind().to_string())),
            Ok(Some(Ok(chunk))) => {
                if body.len() + chunk.len() > MAX_PAGE_BYTES {
                    return Err(Missed::Body(
                        status,
                        format!("it is larger than {} MiB", MAX_PAGE_BYTES >> 20),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
}

/// The format a provider's model list is read in: OpenAI's when it serves any OpenAI
/// surface (or declares none), Anthropic's when it serves only Anthropic's.
fn format_of(route: &Route) -> Format {
    let serves = |format| {
        Surface::ALL
            .into_iter()
            .any(|s| s.format() == format && route.serves(s))
    };
    if !serves(Format::OpenAi) && serves(Format::Anthropic) {
        Format::Anthropic
    } else {
        Format::OpenAi
    }
}

fn models_url(route: &Route) -> Result<url::Url, super::error::GatewayError> {
    match &route.calling.models_path {
        Some(path) => request::overridden(&route.base_url, path),
        None => request::join(&route.base_url, "/models"),
    }
}
