//! One attempt's usage event, from its start to its end: a [`Draft`] made as the attempt
//! starts, finished at once for an attempt that did not answer, or carried by the answer's
//! body ([`metered`]) to be finished when the body ends — or is dropped because the caller
//! left, which is told as `client_disconnected` with what had passed by then.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use tokio::time::Instant;
use ulid::Ulid;

use super::Recorder;
use super::tokens::Meter;
use crate::domain::surface::Surface;
use crate::domain::usage::{
    KeySource, Price, RAW_MOST_BYTES, RawExchange, Tokens, UsageEvent, cost_of,
};
use crate::gateway::policy::clock::Clock;

/// The stop reason of an answer whose caller left before its end.
pub const CLIENT_DISCONNECTED: &str = "client_disconnected";

/// What is known of an attempt as it starts.
pub struct Draft {
    pub request_id: String,
    pub access_key_id: String,
    pub provider: String,
    pub provider_name: String,
    pub model: String,
    pub attempt_number: u32,
    pub is_streaming: bool,
    pub key: KeySource,
    pub started: Instant,
    /// The model's price, when one is set.
    pub price: Option<Price>,
    /// The wall clock the event is timed by (the gateway's, which tests move): the time the
    /// usage store files it under and budgets count it for.
    pub wall: Clock,
    /// The body sent upstream, scrubbed, when the provider keeps its bodies on the event
    /// (Bifrost's `store_raw_request_response`): then the answer's is kept too.
    pub raw_request: Option<Bytes>,
}

/// How an attempt ended.
pub struct Ended {
    pub status: u16,
    pub timed_out: bool,
    pub is_error: bool,
    pub stop_reason: String,
    pub tokens: Tokens,
    pub ttfb_ms: Option<u64>,
}

impl Ended {
    /// An attempt that ended without an answer's body to read.
    pub fn without_body(status: u16, timed_out: bool) -> Ended {
        Ended {
            status,
            timed_out,
            is_error: timed_out || status == 0 || status >= 400,
            stop_reason: String::new(),
            tokens: Tokens::default(),
            ttfb_ms: None,
        }
    }
}

impl Draft {
    pub fn finish(self, ended: Ended, is_final: bool) -> UsageEvent {
        let at_ms = (self.wall)();
        UsageEvent {
            id: Ulid::from_parts(at_ms, rand_bits()),
            request_id: self.request_id,
            access_key_id: self.access_key_id,
            provider: self.provider,
            provider_name: self.provider_name,
            model: self.model,
            attempt_number: self.attempt_number,
            is_final_attempt: is_final,
            status_code: ended.status,
            timed_out: ended.timed_out,
            is_error: ended.is_error,
            is_streaming: self.is_streaming,
            stop_reason: ended.stop_reason,
            tokens: ended.tokens,
            // Counts the upstream did not report cost nothing rather than a guess.
            cost_nanos: self
                .price
                .filter(|_| ended.tokens.known)
                .map(|price| cost_of(&ended.tokens, &price)),
            key: self.key,
            latency_ms: self.started.elapsed().as_millis() as u64,
            ttfb_ms: ended.ttfb_ms,
            raw: self.raw_request.map(|sent| {
                Box::new(RawExchange {
                    request: Some(RawExchange::bounded(&sent, sent.len())),
                    response: None,
                })
            }),
        }
    }
}

/// The 80 bits after a ULID's time: a process-wide count above 40 random bits, so that the
/// events of one millisecond (a call's failed attempts, recorded together) list in the order
/// they were made, and ids from two processes still differ.
fn rand_bits() -> u128 {
    static MADE: AtomicU64 = AtomicU64::new(0);
    let count = u128::from(MADE.fetch_add(1, Ordering::Relaxed) & ((1 << 40) - 1));
    (count << 40) | (Ulid::new().random() & ((1 << 40) - 1))
}

/// `body`, the final attempt's answer, read as it passes for its counts; its event is
/// recorded when the body ends or is dropped.
pub fn metered(
    body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    surface: Surface,
    streamed: bool,
    status: u16,
    draft: Draft,
    recorder: Arc<Recorder>,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let ttfb_ms = Some(draft.started.elapsed().as_millis() as u64);
    Metered {
        captured: draft.raw_request.as_ref().map(|_| (Vec::new(), 0)),
        body,
        meter: Some(Meter::new(surface, streamed)),
        pending: Some((draft, status, ttfb_ms)),
        broke: false,
        recorder,
    }
    .boxed()
}

struct Metered {
    body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    meter: Option<Meter>,
    pending: Option<(Draft, u16, Option<u64>)>,
    broke: bool,
    recorder: Arc<Recorder>,
    /// The answer's first bytes and its length so far, when its event keeps it.
    captured: Option<(Vec<u8>, usize)>,
}

impl Metered {
    /// Records the event: the body ended (`left`: false) or its caller left.
    fn record(&mut self, left: bool) {
        let (Some((draft, status, ttfb_ms)), Some(meter)) =
            (self.pending.take(), self.meter.take())
        else {
            return;
        };
        let read = meter.finish();
        let stop_reason = match left {
            true => CLIENT_DISCONNECTED.to_owned(),
            false => read.stop.unwrap_or_default(),
        };
        let ended = Ended {
            status,
            timed_out: false,
            is_error: status >= 400 || self.broke || read.failed,
            stop_reason,
            tokens: read.tokens,
            ttfb_ms,
        };
        let mut event = draft.finish(ended, true);
        if let (Some(raw), Some((read, total))) = (event.raw.as_mut(), self.captured.take()) {
            raw.response = Some(RawExchange::bounded(&read, total));
        }
        self.recorder.record(event);
    }
}

impl Stream for Metered {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.body.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(meter) = self.meter.as_mut() {
                    meter.feed(chunk);
                }
                if let Some((read, total)) = self.captured.as_mut() {
                    *total += chunk.len();
                    let room = (RAW_MOST_BYTES + 4).saturating_sub(read.len());
                    read.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
            }
            Poll::Ready(Some(Err(_))) => self.broke = true,
            Poll::Ready(None) => self.record(false),
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.record(true);
    }
}
