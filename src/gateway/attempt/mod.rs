//! One attempt: a candidate called with its credential, through its provider's client and
//! queue (`limiter`), with the request `request` makes, up to its answer's head (and, for a
//! stream, its first content: `commit`); the body then goes back through `stream`'s watch,
//! and everything passed back through `scrub`, which masks the key and the credential
//! headers' values wherever they show.
//! What a failure means for the rest of the call is `policy`'s and `call`'s.

pub mod commit;
pub mod decode;
pub mod limiter;
mod raw;
pub mod request;
pub mod scrub;
pub mod sse;
pub mod stream;
mod told;
mod translated;

pub(super) use raw::Raw;
pub(super) use translated::Pending;

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self as chunks, BoxStream, StreamExt};
use reqwest::header::{HeaderName, HeaderValue};
use tokio::time::Instant;

use super::client::{self, outbound};
use super::error::{Code, GatewayError};
use super::plan::body::CallBody;
use super::plan::{Candidate, Credential};
use super::policy::{self, Failure};
use super::{Answer, Call, Chosen, Gateway, Timeouts};
use crate::domain::now_ms;
use commit::Peeked;
use limiter::{Busy, Slot};
use scrub::Scrub;
use told::{busy, forbidden, invalid, no_key, timed_out, unreachable, unusable_key};

/// An attempt that did not answer the client: why, and what the client hears when it was the
/// call's only attempt.
pub(super) struct Missed {
    pub(super) failure: Failure,
    pub(super) told: Told,
}

pub(super) enum Told {
    /// The upstream's own answer, passed on unchanged.
    Upstream(Answer),
    /// The gateway's words: no answer came, or no call could be made.
    Gateway(GatewayError),
}

impl Gateway {
    /// One upstream call, up to its answer's head (and, for a stream, its first content).
    /// Attempt number `number` of `call` (for its log lines).
    pub(super) async fn attempt(
        &self,
        call: &Call<'_>,
        body: &CallBody<'_>,
        candidate: &Candidate,
        budget: Duration,
        number: u32,
    ) -> Result<Answer, Missed> {
        let request_id = call.context.request_id.as_str();
        let Candidate {
            target, credential, ..
        } = candidate;
        let route = &target.route;
        if target.estimate {
            return Ok(translated::estimate(body, candidate, number));
        }
        let not_callable = |code, error: GatewayError| Missed {
            failure: Failure::NotCallable(code),
            told: Told::Gateway(error),
        };
        let (key_id, key) = match credential {
            Credential::None => (None, None),
            Credential::Missing => {
                return Err(not_callable(Code::NoUsableKey, no_key(&route.slug)));
            }
            Credential::Key(key) => match key.reveal(&self.master_key) {
                Ok(value) => (Some(key.id), Some(value)),
                Err(e) => {
                    log::warn!(
                        request_id, attempt = number;
                        "provider key {} of `{}` cannot be used: {e}",
                        key.id,
                        route.slug
                    );
                    return Err(not_callable(Code::NoUsableKey, unusable_key(&route.slug)));
                }
            },
        };
        // A translated call goes to the provider's surface, in its format.
        let surface = target.translation.map_or(call.surface, |t| t.upstream());
        let format = surface.format();
        let sent = translated::body(call, body, candidate).map_err(|e| not_callable(e.code, e))?;
        let caller_model = translated::caller_model(body, candidate);
        let streamed_call = body.stream;
        let prepared = route.url(surface).and_then(|url| {
            let key = key.as_deref().map(String::as_str);
            let mut headers = request::headers(format, key, &call.passed)?;
            let opened = route
                .calling
                .add_headers(&mut headers, &self.master_key, &route.slug)?;
            Ok((url.clone(), headers, opened))
        });
        let (url, headers, opened) = prepared.map_err(|e| not_callable(e.code, e))?;
        // Whatever of the attempt's secrets an upstream echoes is masked in what goes back.
        let scrub = Scrub::new(key, opened);
        let (client, guard) =
            client::for_route(route, &self.clients, &self.master_key, self.allow_private)
                .map_err(|e| not_callable(e.code, e))?;
        // A host written as an address meets no resolver: it is checked here, before any
        // connection (the proxy's, when there is one).
        let dialed = guard.proxy.as_ref().unwrap_or(&url);
        if let Some(refused) =
            outbound::literal(dialed).and_then(|ip| outbound::check(ip, guard.allow_private).err())
        {
            let error = forbidden(route, &refused, request_id, number);
            return Err(not_callable(Code::OutboundRefused, error));
        }
        let started = Instant::now();
        let deadline = started + budget;
        let missed = |failure, error| Missed {
            failure,
            told: Told::Gateway(error),
        };
        let slot = match route.state.limiter() {
            None => None,
            Some(limiter) => match tokio::time::timeout_at(deadline, limiter.enter()).await {
                Ok(Ok(slot)) => Some(slot),
                Ok(Err(Busy)) => return Err(missed(Failure::Busy, busy(route))),
                Err(_) => return Err(missed(Failure::Timeout, timed_out(route, budget))),
            },
        };
        // Only a provider with Bifrost's flags pays for keeping the body sent.
        let mut raw = Raw::wanted(route.dialect.as_deref(), &sent.body, &scrub);
        let stored = route
            .dialect
            .as_ref()
            .filter(|d| d.store_raw)
            .map(|_| Bytes::from(scrub.bytes(sent.body.clone())));
        let request = client.post(url).headers(headers).body(sent.body);
        if let Some(id) = key_id {
            self.uses.record(id, now_ms());
        }
        let response = match tokio::time::timeout_at(deadline, request.send()).await {
            Err(_) => return Err(missed(Failure::Timeout, timed_out(route, budget))),
            Ok(Err(e)) if e.is_timeout() => {
                return Err(missed(Failure::Timeout, timed_out(route, budget)));
            }
            Ok(Err(e)) if out_of_descriptors(&e) => {
                log::warn!(
                    request_id, attempt = number;
                    "no connection to `{}`: this process has no file descriptor left (raise \
                     LimitNOFILE)", route.slug
                );
                let error = GatewayError::new(
                    Code::GatewayOverloaded,
                    "the gateway has no file descriptor left for another connection; retry shortly",
                );
                return Err(not_callable(Code::GatewayOverloaded, error));
            }
            Ok(Err(e)) => {
                return Err(match outbound::refusal_in(&e) {
                    Some(refused) => not_callable(
                        Code::OutboundRefused,
                        forbidden(route, &refused, request_id, number),
                    ),
                    None => missed(
                        Failure::Unreachable,
                        unreachable(route, e, &scrub, request_id, number),
                    ),
                });
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !policy::is_final(status.as_u16()) {
            // Dropped unread: after a 101 the connection speaks something else, and is never
            // handed back to the pool.
            drop(response);
            let status = status.as_u16();
            return Err(missed(
                Failure::Invalid { status },
                invalid(route, status, request_id, number),
            ));
        }
        let mut headers: Vec<(HeaderName, HeaderValue)> = response
            .headers()
            .iter()
            .filter(|(name, _)| request::returned(name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        scrub.headers(&mut headers);
        translated::tag(&mut headers, &sent.dropped);
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_bytes())
        };
        let sse = header("content-type").is_some_and(sse::is_event_stream);
        let coding = decode::coding(response.headers());
        let body = decode::decoded(coding, response.bytes_stream());
        let chunks = held(scrub.body(body), slot);
        let timeouts = Timeouts {
            idle: route.calling.idle_timeout.unwrap_or(self.timeouts.idle),
            ..self.timeouts
        };
        let answer = |body| Answer {
            status: status.as_u16(),
            headers: headers.clone(),
            streamed: sse,
            body,
            chosen: Chosen {
                provider: Some(route.slug.clone()),
                model: Some(target.model.clone()),
                attempts: number,
                fallbacks: 0,
            },
            pending: None,
            raw: None,
            stored: None,
        };
        let watched = stream::Watched {
            sse: sse.then_some(format),
            timeouts,
            deadline,
            request_id: call.context.request_id.clone(),
            attempt: number,
        };
        let watch = |chunks| watched.clone().watch(chunks);
        let failed = (!status.is_success()).then(|| Failure::Status {
            status: status.as_u16(),
            retry_after: policy::retry_after(header("retry-after-ms"), header("retry-after")),
        });
        // A translated answer is read whole, unless it is the stream the call asked for.
        if let Some(direction) = target.translation
            && !(sse && streamed_call && failed.is_none())
        {
            let mut answer = answer(watch(chunks));
            if failed.is_none() {
                answer.raw = raw.take();
                answer.stored = stored.clone();
            }
            return translated::answer(direction, answer, failed, caller_model, deadline).await;
        }
        if let Some(failure) = failed {
            return Err(Missed {
                failure,
                told: Told::Upstream(answer(watch(chunks))),
            });
        }
        if !sse {
            let mut answer = answer(watch(chunks));
            answer.raw = raw;
            answer.stored = stored;
            return Ok(answer);
        }
        // The attempt's time covers the head and the first content: an upstream that trickles
        // keep-alives forever must not hold the caller without an answer, nor stop failover.
        let peeked = tokio::time::timeout_at(
            deadline,
            commit::until_content(format, chunks, timeouts.idle),
        );
        let Ok(peeked) = peeked.await else {
            log::warn!(
                request_id, attempt = number;
                "the stream of `{}` sent no content within the attempt's time", route.slug
            );
            return Err(missed(Failure::Timeout, timed_out(route, budget)));
        };
        match peeked {
            Peeked::Committed { held, rest } => {
                // The held events go through the same watch, which looks for the stream's end.
                let chunks = chunks::once(async move { Ok(held) }).chain(rest).boxed();
                let mut answer = answer(watch(chunks));
                answer.stored = stored;
                answer.pending = target
                    .translation
                    .map(|d| Pending::stream(d, caller_model, sent.include_usage));
                Ok(answer)
            }
            Peeked::Failed(code) => {
                log::warn!(
                    request_id, attempt = number;
                    "the stream of `{}` failed before its first content: {code}",
                    route.slug
                );
                Err(missed(
                    Failure::StreamBroken(code),
                    GatewayError::new(
                        code,
                        format!(
                            "provider `{}` started a stream and {} before its first content",
                            route.slug,
                            match code {
                                Code::StreamIdleTimeout => "went quiet",
                                Code::UpstreamStreamError => "sent an error",
                                _ => "broke",
                            }
                        ),
                    ),
                ))
            }
        }
    }
}

/// The answer's chunks, holding the provider's queue slot (if it has a queue) until the last
/// one is read or the answer dropped: a streamed answer counts as in flight while it streams.
fn held(
    chunks: BoxStream<'static, Result<Bytes, std::io::Error>>,
    slot: Option<Slot>,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    match slot {
        None => chunks,
        Some(slot) => chunks::unfold((chunks, Some(slot)), |(mut chunks, slot)| async move {
            let next = chunks.next().await?;
            Some((next, (chunks, slot)))
        })
        .boxed(),
    }
}

/// Whether a connection failed because this process ran out of descriptors (EMFILE, ENFILE):
/// the gateway's trouble, never counted against the provider.
fn out_of_descriptors(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(23 | 24))
        {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connect")]
    struct Wrapped(#[source] std::io::Error);

    #[test]
    fn running_out_of_descriptors_is_told_apart_from_an_unreachable_upstream() {
        for (errno, out) in [(24, true), (23, true), (111, false)] {
            let e = Wrapped(std::io::Error::from_raw_os_error(errno));
            assert_eq!(out_of_descriptors(&e), out, "errno {errno}");
        }
    }
}
