//! An upstream answer's body on its way to the client: passed through chunk by chunk, watched
//! for a stall, a break or a stream that stops before its end.

use std::ops::ControlFlow;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::time::Instant;

use super::super::Timeouts;
use super::super::error::{Code, GatewayError, wire};
use super::sse::{Event, Reader};
use crate::domain::surface::Format;

/// Whether a stream has shown its last event: read event by event as it passes (`sse`), so
/// an ending split over any number of reads is found, and words in the text are not endings.
#[derive(Default)]
struct Ending {
    seen: bool,
    events: Reader,
}

impl Ending {
    fn scan(&mut self, chunk: &[u8]) {
        if !self.seen {
            self.seen = self.events.feed(chunk, Self::check).is_break();
        }
    }

    /// The stream stopped: whether it had ended, its last event perhaps left unclosed.
    fn finish(&mut self) -> bool {
        if !self.seen {
            self.seen = self.events.finish(Self::check).is_break();
        }
        self.seen
    }

    fn check(event: &Event<'_>) -> ControlFlow<()> {
        match event.end() {
            Some(_) => ControlFlow::Break(()),
            None => ControlFlow::Continue(()),
        }
    }

    /// `event`, first closing whatever event the stream stopped inside, so that a client reads
    /// it as an event of its own.
    fn closing(&self, event: Bytes) -> Bytes {
        match self.seen || !self.events.mid_event() {
            true => event,
            false => [&b"\n\n"[..], &event].concat().into(),
        }
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
        chunks: BoxStream<'static, Result<Bytes, std::io::Error>>,
    ) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        // A stream is watched from its commit point: it may last `timeouts.stream` from here.
        let until = Instant::now() + self.timeouts.stream;
        // The watch rides in the state: cloning it per chunk would copy the request id each time.
        let state = (self, chunks, false, Ending::default());
        stream::unfold(state, move |(w, mut chunks, done, mut ending)| async move {
            if done {
                return None;
            }
            let (piece, done) = w.next(&mut chunks, &mut ending, until).await?;
            Some((piece, (w, chunks, done, ending)))
        })
        .boxed()
    }

    /// The next piece of the body, and whether it is the last.
    async fn next(
        &self,
        chunks: &mut BoxStream<'static, Result<Bytes, std::io::Error>>,
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
                    let event = incomplete(format, Code::StreamBroken, "broke");
                    Some((Ok(ending.closing(event)), true))
                }
                None => Some((Err(std::io::Error::other(e)), true)),
            },
            Ok(None) => match self.sse {
                Some(format) if !ending.seen => {
                    let event =
                        incomplete(format, Code::StreamEndedEarly, "stopped before its end");
                    let event = ending.closing(event);
                    if ending.finish() {
                        return None;
                    }
                    log::warn!(request_id, attempt; "an upstream stream stopped before its end");
                    Some((Ok(event), true))
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
                    let event = wire::stream_error_event(format, &error);
                    Some((Ok(ending.closing(event)), true))
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
    use std::time::Duration;

    use super::*;

    /// What the client receives of a stream that sends `reads` and then stops.
    async fn watched(format: Format, reads: &[&[u8]]) -> Vec<u8> {
        let second = Duration::from_secs(5);
        let watched = Watched {
            sse: Some(format),
            timeouts: Timeouts {
                attempt: second,
                idle: second,
                total: second,
                stream: second,
            },
            deadline: Instant::now() + second,
            request_id: "r".into(),
            attempt: 1,
        };
        let chunks: Vec<Result<Bytes, std::io::Error>> = reads
            .iter()
            .map(|r| Ok(Bytes::copy_from_slice(r)))
            .collect();
        let body = watched.watch(stream::iter(chunks).boxed());
        let out: Vec<_> = body.map(|r| r.unwrap()).collect().await;
        out.concat()
    }

    #[tokio::test]
    async fn a_stream_cut_before_its_last_event_ends_with_an_error_event() {
        let openai = [
            // Text that mentions an ending, then a cut.
            &[&b"data: {\"choices\":[{\"delta\":{\"content\":\"say [DONE]\"}}]}\n\n"[..]][..],
            &[b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"response.completed\"}\n\n"],
            &[b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DO"],
        ];
        for reads in openai {
            let out = watched(Format::OpenAi, reads).await;
            let sent = reads.concat();
            assert!(out.starts_with(&sent), "passed through unchanged");
            let added = String::from_utf8(out[sent.len()..].to_vec()).unwrap();
            assert!(added.contains("stream_ended_early"), "{reads:?}: {added}");
            // The error event is an event of its own, even after a cut inside one.
            let closing = if sent.ends_with(b"\n\n") { "" } else { "\n\n" };
            assert!(
                added.starts_with(&format!("{closing}data: {{\"error\"")),
                "{added:?}"
            );
        }
        let anthropic: &[&[u8]] = &[
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"message_stop\"}}\n\n",
        ];
        let out = watched(Format::Anthropic, anthropic).await;
        let added = String::from_utf8(out[anthropic[0].len()..].to_vec()).unwrap();
        assert!(added.starts_with("event: error\ndata: {"), "{added}");
    }

    #[tokio::test]
    async fn a_complete_stream_ends_as_it_came_however_it_was_read() {
        let streams: [(Format, &str); 3] = [
            (
                Format::OpenAi,
                "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n",
            ),
            (
                Format::Anthropic,
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\"}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            ),
            (
                Format::OpenAi,
                "event: response.output_text.delta\ndata: {}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\"}\n\n",
            ),
        ];
        for (format, text) in streams {
            for line_end in ["\n", "\r\n", "\r"] {
                let text = text.replace('\n', line_end);
                let bytes = text.as_bytes();
                // Every split into three reads, the ending's included.
                for i in 0..=bytes.len() {
                    for j in (i..=bytes.len()).step_by(3) {
                        let reads = [&bytes[..i], &bytes[i..j], &bytes[j..]];
                        let out = watched(format, &reads).await;
                        assert_eq!(out, bytes, "{reads:?}");
                    }
                }
                let single: Vec<&[u8]> = bytes.chunks(1).collect();
                assert_eq!(watched(format, &single).await, bytes);
            }
        }
    }

    #[tokio::test]
    async fn an_error_the_upstream_sent_itself_ends_its_stream() {
        let reads: &[&[u8]] = &[
            b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
            b"data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
        ];
        assert_eq!(watched(Format::OpenAi, reads).await, reads.concat());
    }
}
