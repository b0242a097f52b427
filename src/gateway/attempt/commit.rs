//! The commit point of a streamed answer. Until an upstream's stream has sent something a
//! client would show — text, a tool call, a refusal, the end — nothing has been promised, so a
//! stream that fails before then can still fail over to the next candidate. The events before
//! that point (OpenAI's role-only first chunk, Anthropic's `message_start` and `ping`, the
//! Responses API's `response.created`) are held; the first event that carries anything else
//! releases them together with itself, so content is never delayed.

use std::ops::ControlFlow;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, StreamExt};
use serde_json::Value;

use super::super::error::Code;
use super::sse::{End, Event, Reader};
use crate::domain::surface::Format;

/// How much may be held before committing anyway: a stream of nothing but preambles is odd,
/// and holding it without bound would be worse than passing it on.
pub const MAX_HELD_EVENTS: usize = 64;
pub const MAX_HELD_BYTES: usize = 256 * 1024;

pub type Chunks = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// What reading up to the commit point found.
pub enum Peeked {
    /// The client can be answered: `held` goes first, then whatever `rest` brings.
    Committed { held: Bytes, rest: Chunks },
    /// The stream broke, went quiet past the idle timeout, or the upstream sent an error
    /// before its first content.
    Failed(Code),
}

/// What one event before the commit point means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Preamble,
    Content,
    /// An error the upstream sent itself (Anthropic's `overloaded_error` event, OpenAI's
    /// error object): nothing was promised yet, so it fails over like a broken stream.
    Failed,
}

/// Reads `chunks` until its first event that carries content (or the holding limits), waiting
/// at most `idle` for each chunk.
pub async fn until_content(format: Format, mut chunks: Chunks, idle: Duration) -> Peeked {
    let mut held = BytesMut::new();
    let mut reader = Reader::default();
    let mut events = 0;
    let mut judge = |event: &Event<'_>| {
        events += 1;
        match meaning(format, event) {
            Held::Preamble if events < MAX_HELD_EVENTS => ControlFlow::Continue(()),
            Held::Preamble => ControlFlow::Break(Held::Content),
            held => ControlFlow::Break(held),
        }
    };
    loop {
        let chunk = match tokio::time::timeout(idle, chunks.next()).await {
            Err(_) => return Peeked::Failed(Code::StreamIdleTimeout),
            Ok(Some(Err(_))) => return Peeked::Failed(Code::StreamBroken),
            // Ended with nothing but openings (its last event perhaps unclosed, and telling
            // why): the upstream cut it short.
            Ok(None) => {
                return Peeked::Failed(match reader.finish(&mut judge) {
                    ControlFlow::Break(Held::Failed) => Code::UpstreamStreamError,
                    _ => Code::StreamEnded,
                });
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        held.extend_from_slice(&chunk);
        match reader.feed(&chunk, &mut judge) {
            ControlFlow::Break(Held::Failed) => return Peeked::Failed(Code::UpstreamStreamError),
            ControlFlow::Break(_) => return committed(held, chunks),
            ControlFlow::Continue(()) if held.len() >= MAX_HELD_BYTES => {
                return committed(held, chunks);
            }
            ControlFlow::Continue(()) => {}
        }
    }
}

fn committed(held: BytesMut, rest: Chunks) -> Peeked {
    Peeked::Committed {
        held: held.freeze(),
        rest,
    }
}

fn meaning(format: Format, event: &Event<'_>) -> Held {
    if event.end() == Some(End::Failed) {
        Held::Failed
    } else if is_preamble(format, event) {
        Held::Preamble
    } else {
        Held::Content
    }
}

/// Whether an event says nothing a client would show: an opening, a keep-alive, an empty delta.
/// Anything not known to be empty counts as content, so the rule can only hold too little.
fn is_preamble(format: Format, event: &Event<'_>) -> bool {
    let Some(data) = event.data else {
        // Comments and bare `event:` lines: keep-alives, which a client never sees as events.
        return true;
    };
    if !event.whole {
        return false;
    }
    let Ok(json) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    let kind = match event.name.filter(|n| *n != b"message") {
        Some(name) => std::str::from_utf8(name).unwrap_or("?"),
        None => json["type"].as_str().unwrap_or(""),
    };
    match format {
        Format::Anthropic => match kind {
            "message_start" | "ping" => true,
            "content_block_start" => {
                let block = &json["content_block"];
                block["type"] == "text" && block["text"].as_str().is_none_or(str::is_empty)
            }
            _ => false,
        },
        Format::OpenAi => match kind {
            "response.created" | "response.in_progress" | "response.queued" => true,
            "" => empty_chat_chunk(&json),
            _ => false,
        },
    }
}

/// A chat-completion chunk whose choices only open a message: a role, empty content, no end.
fn empty_chat_chunk(chunk: &Value) -> bool {
    let Some(choices) = chunk["choices"].as_array() else {
        return false;
    };
    if choices.is_empty() {
        // The usage chunk ends a stream; one without usage (a content-filter note) opens it.
        return chunk["usage"].is_null();
    }
    choices.iter().all(|choice| {
        choice["finish_reason"].is_null()
            && choice["delta"].as_object().is_some_and(|delta| {
                delta.iter().all(|(k, v)| match k.as_str() {
                    "role" => true,
                    "content" => v.is_null() || v == "",
                    "refusal" | "tool_calls" | "function_call" => v.is_null(),
                    _ => v.is_null(),
                })
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the one event of `text` means before the commit point.
    fn meaning_of(format: Format, text: &str) -> Held {
        let mut reader = Reader::default();
        let mut found = None;
        let mut judge = |e: &Event<'_>| {
            found = Some(meaning(format, e));
            ControlFlow::Break(())
        };
        if reader.feed(text.as_bytes(), &mut judge).is_continue() {
            let _ = reader.finish(&mut judge);
        }
        found.expect("an event")
    }

    #[test]
    fn openings_and_keep_alives_are_held_and_anything_else_is_content() {
        let openai = [
            (
                r#"data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#,
                true,
            ),
            (
                r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
                true,
            ),
            (r#"data: {"choices":[],"prompt_filter_results":[]}"#, true),
            (r#"data: {"type":"response.created","response":{}}"#, true),
            (": keep-alive", true),
            (
                r#"data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
                false,
            ),
            (
                r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"id":"t"}]}}]}"#,
                false,
            ),
            (
                r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
                false,
            ),
            (r#"data: {"choices":[],"usage":{"total_tokens":3}}"#, false),
            (
                r#"data: {"type":"response.output_text.delta","delta":"Hi"}"#,
                false,
            ),
            ("data: [DONE]", false),
            ("data: not json", false),
        ];
        for (event, held) in openai {
            let want = if held { Held::Preamble } else { Held::Content };
            assert_eq!(meaning_of(Format::OpenAi, event), want, "{event}");
        }
        let anthropic = [
            (
                "event: message_start\ndata: {\"type\":\"message_start\"}",
                true,
            ),
            ("event: ping\ndata: {\"type\":\"ping\"}", true),
            (
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
                true,
            ),
            (
                "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"content_block\":{\"type\":\"tool_use\",\"name\":\"f\"}}",
                false,
            ),
            (
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\"}",
                false,
            ),
            ("event: ping", true),
        ];
        for (event, held) in anthropic {
            let want = if held { Held::Preamble } else { Held::Content };
            assert_eq!(meaning_of(Format::Anthropic, event), want, "{event}");
        }
        for (format, event) in [
            (
                Format::Anthropic,
                "event: error\ndata: {\"type\":\"error\"}",
            ),
            (Format::OpenAi, "data: {\"error\":{\"message\":\"x\"}}"),
        ] {
            assert_eq!(meaning_of(format, event), Held::Failed, "{event}");
        }
    }

    fn chunks(parts: Vec<Result<&'static str, ()>>) -> Chunks {
        futures_util::stream::iter(parts.into_iter().map(|p| match p {
            Ok(s) => Ok(Bytes::from_static(s.as_bytes())),
            Err(()) => Err(std::io::Error::other("the connection broke")),
        }))
        .boxed()
    }

    #[tokio::test]
    async fn the_opening_is_held_until_content_and_released_with_it() {
        let role = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n";
        let stream = chunks(vec![
            Ok(role),
            Ok("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DO"),
            Ok("NE]\n\n"),
        ]);
        let Peeked::Committed { held, rest } =
            until_content(Format::OpenAi, stream, Duration::from_secs(5)).await
        else {
            panic!("committed")
        };
        assert!(held.starts_with(role.as_bytes()) && held.ends_with(b"data: [DO"));
        let rest: Vec<_> = rest.collect().await;
        assert_eq!(rest.len(), 1);
    }

    #[tokio::test]
    async fn a_stream_that_breaks_or_ends_before_content_fails() {
        let role = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n";
        let broken = chunks(vec![Ok(role), Err(())]);
        assert!(matches!(
            until_content(Format::OpenAi, broken, Duration::from_secs(5)).await,
            Peeked::Failed(Code::StreamBroken)
        ));
        let ended = chunks(vec![Ok(role)]);
        assert!(matches!(
            until_content(Format::OpenAi, ended, Duration::from_secs(5)).await,
            Peeked::Failed(Code::StreamEnded)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_quiet_before_content_fails_at_the_idle_timeout() {
        let quiet = futures_util::stream::pending().boxed();
        assert!(matches!(
            until_content(Format::Anthropic, quiet, Duration::from_secs(60)).await,
            Peeked::Failed(Code::StreamIdleTimeout)
        ));
    }

    #[tokio::test]
    async fn a_stream_of_nothing_but_openings_commits_at_the_holding_limit() {
        let ping = "event: ping\ndata: {\"type\":\"ping\"}\n\n";
        let endless =
            futures_util::stream::repeat_with(move || Ok(Bytes::from_static(ping.as_bytes())))
                .boxed();
        let Peeked::Committed { held, .. } =
            until_content(Format::Anthropic, endless, Duration::from_secs(5)).await
        else {
            panic!("committed")
        };
        assert_eq!(held.len(), MAX_HELD_EVENTS * ping.len());
    }

    fn reads(parts: &[&[u8]]) -> Chunks {
        let parts: Vec<Result<Bytes, std::io::Error>> = parts
            .iter()
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        futures_util::stream::iter(parts).boxed()
    }

    async fn peek(format: Format, parts: &[&[u8]]) -> Peeked {
        until_content(format, reads(parts), Duration::from_secs(5)).await
    }

    #[tokio::test]
    async fn content_commits_in_every_line_ending_and_every_split() {
        let streams = [
            (
                Format::OpenAi,
                "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n",
            ),
            (
                Format::Anthropic,
                "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\"}\n\n",
            ),
        ];
        for (format, text) in streams {
            for line_end in ["\n", "\r\n", "\r"] {
                let text = text.replace('\n', line_end);
                let bytes = text.as_bytes();
                for i in 0..=bytes.len() {
                    let Peeked::Committed { held, rest } =
                        peek(format, &[&bytes[..i], &bytes[i..]]).await
                    else {
                        panic!("{line_end:?} split at {i}: not committed");
                    };
                    let rest: Vec<_> = rest.map(Result::unwrap).collect().await;
                    assert_eq!([&held[..], &rest.concat()].concat(), bytes, "unchanged");
                }
            }
        }
    }

    #[tokio::test]
    async fn an_error_the_upstream_sends_before_content_fails_the_attempt() {
        let streams = [
            (
                Format::Anthropic,
                "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            ),
            (
                Format::OpenAi,
                "data: {\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}\n\n",
            ),
            (
                Format::OpenAi,
                "event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.failed\ndata: {\"type\":\"response.failed\"}\n\n",
            ),
            (
                Format::OpenAi,
                "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\"}\n\n",
            ),
        ];
        for (format, text) in streams {
            for line_end in ["\n", "\r\n", "\r"] {
                let text = text.replace('\n', line_end);
                let bytes = text.as_bytes();
                for i in 0..=bytes.len() {
                    // Then the upstream goes on, or closes at once.
                    let more: &[u8] = b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";
                    for parts in [
                        &[&bytes[..i], &bytes[i..], more][..],
                        &[&bytes[..i], &bytes[i..]],
                    ] {
                        assert!(
                            matches!(
                                peek(format, parts).await,
                                Peeked::Failed(Code::UpstreamStreamError)
                            ),
                            "{text:?} split at {i}"
                        );
                    }
                }
            }
        }
    }
}
