//! An upstream answer's body on its way to the client: passed through chunk by chunk, watched
//! for a stall, a break or a stream that stops before its end.

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::time::Instant;

use super::super::Timeouts;
use super::super::error::{Code, GatewayError, wire};
use crate::domain::surface::Format;

/// What ends a stream as its upstream meant it to end: OpenAI's `[DONE]`, the Responses API's
/// and Anthropic's last events, or an error the upstream sent itself.
const ENDINGS: [&[u8]; 6] = [
    b"[DONE]",
    b"message_stop",
    b"response.completed",
    b"response.incomplete",
    b"response.failed",
    b"\"error\":",
];

/// Whether a stream has shown one of its [`ENDINGS`], read chunk by chunk: the last bytes of
/// each chunk are kept, so an ending split across two chunks is found too.
#[derive(Default)]
struct Ending {
    seen: bool,
    tail: Vec<u8>,
}

impl Ending {
    const KEEP: usize = 24;

    fn scan(&mut self, chunk: &[u8]) {
        if self.seen {
            return;
        }
        self.tail
            .extend_from_slice(&chunk[..chunk.len().min(Self::KEEP)]);
        let found = |hay: &[u8]| {
            ENDINGS
                .iter()
                .any(|e| memchr::memmem::find(hay, e).is_some())
        };
        self.seen = found(&self.tail) || found(chunk);
        let from = chunk.len().saturating_sub(Self::KEEP);
        self.tail.clear();
        self.tail.extend_from_slice(&chunk[from..]);
    }
}

/// How an answer's body is watched: for a stream (SSE), its format; the attempt's timeouts and
/// deadline; and the call's ids for the lines it logs.
#[derive(Clone)]
pub struct Watched {
    pub sse: Option<Format>,
    pub timeouts: Timeouts,
    pub deadline: Instant,
    pub request_id: String,
    pub attempt: u32,
}

impl Watched {
    /// An upstream body passed through chunk by chunk, never buffered whole. A stream (SSE)
    /// that breaks, goes quiet past `idle`, or stops before its ending ends with an error event
    /// in its format's stream shape, never with a clean end that would look like success; any
    /// other body that breaks, stalls past `idle` or outlives `deadline` is cut off, which the
    /// client sees as an aborted answer.
    pub fn watch(
        self,
        chunks: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    ) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        // A stream is watched from its commit point: it may last `timeouts.stream` from here.
        let until = Instant::now() + self.timeouts.stream;
        let state = (chunks, false, Ending::default());
        stream::unfold(state, move |(mut chunks, done, mut ending)| {
            let w = self.clone();
            async move {
                if done {
                    return None;
                }
                let next = w.next(&mut chunks, &mut ending, until).await?;
                let done = next.1;
                Some((next.0, (chunks, done, ending)))
            }
        })
        .boxed()
    }

    /// The next piece of the body, and whether it is the last.
    async fn next(
        &self,
        chunks: &mut BoxStream<'static, Result<Bytes, reqwest::Error>>,
        ending: &mut Ending,
        stream_until: Instant,
    ) -> Option<(Result<Bytes, std::io::Error>, bool)> {
        let (request_id, attempt) = (self.request_id.as_str(), self.attempt);
        let limit = match self.sse {
            Some(_) => stream_until.min(Instant::now() + self.timeouts.idle),
            None => self.deadline.min(Instant::now() + self.timeouts.idle),
        };
        match tokio::time::timeout_at(limit, chunks.next()).await {
            Ok(Some(Ok(bytes))) => {
                if self.sse.is_some() {
                    ending.scan(&bytes);
                }
                Some((Ok(bytes), false))
            }
            Ok(Some(Err(e))) => match self.sse {
                Some(format) => {
                    log::warn!(request_id, attempt; "an upstream stream broke: {e}");
                    Some((Ok(incomplete(format, Code::StreamBroken, "broke")), true))
                }
                None => Some((Err(std::io::Error::other(e)), true)),
            },
            Ok(None) => match self.sse {
                Some(format) if !ending.seen => {
                    log::warn!(request_id, attempt; "an upstream stream stopped before its end");
                    let what = "stopped before its end";
                    Some((Ok(incomplete(format, Code::StreamEndedEarly, what)), true))
                }
                _ => None,
            },
            Err(_) => match self.sse {
                Some(format) if Instant::now() >= stream_until => {
                    log::warn!(request_id, attempt; "a stream ran past gateway.max_stream_secs");
                    let error = GatewayError::new(
                        Code::StreamTooLong,
                        format!(
                            "the stream ran past {} s (gateway.max_stream_secs); it was ended",
                            self.timeouts.stream.as_secs()
                        ),
                    );
                    Some((Ok(wire::stream_error_event(format, &error)), true))
                }
                Some(format) => {
                    let error = GatewayError::new(
                        Code::StreamIdleTimeout,
                        format!(
                            "the upstream sent nothing for {} s; the stream was ended",
                            self.timeouts.idle.as_secs()
                        ),
                    );
                    Some((Ok(wire::stream_error_event(format, &error)), true))
                }
                None => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the upstream answer stalled",
                    )),
                    true,
                )),
            },
        }
    }
}

/// The error event that ends a stream the upstream did not finish.
fn incomplete(format: Format, code: Code, what: &str) -> Bytes {
    let error = GatewayError::new(
        code,
        format!("the upstream's stream {what}; the answer is incomplete"),
    );
    wire::stream_error_event(format, &error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streams_ending_is_found_even_split_across_chunks() {
        for chunks in [
            &[&b"data: {\"a\":1}\n\n"[..], b"data: [DONE]\n\n"][..],
            &[b"data: {\"a\":1}\n\ndata: [DO", b"NE]\n\n"],
            &[b"event: message_st", b"op\ndata: {}\n\n"],
            &[b"data: {\"type\":\"response.completed\"}\n\n"],
            &[b"data: {\"err", b"or\":{\"message\":\"x\"}}\n\n"],
        ] {
            let mut ending = Ending::default();
            chunks.iter().for_each(|c| ending.scan(c));
            assert!(ending.seen, "{chunks:?}");
        }
        let mut ending = Ending::default();
        ending.scan(b"data: {\"choices\":[{\"delta\":{\"content\":\"DONE\"}}]}\n\n");
        assert!(!ending.seen);
    }
}
