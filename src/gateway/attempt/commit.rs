//! The commit point of a streamed answer. Until an upstream's stream has sent something a
//! client would show — text, a tool call, a refusal, the end — nothing has been promised, so a
//! stream that fails before then can still fail over to the next candidate. The events before
//! that point (OpenAI's role-only first chunk, Anthropic's `message_start` and `ping`, the
//! Responses API's `response.created`) are held; the first event that carries anything else
//! releases them together with itself, so content is never delayed.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, StreamExt};
use serde_json::Value;

use super::super::error::Code;
use crate::domain::surface::Format;

/// How much may be held before committing anyway: a stream of nothing but preambles is odd,
/// and holding it without bound would be worse than passing it on.
pub const MAX_HELD_EVENTS: usize = 64;
pub const MAX_HELD_BYTES: usize = 256 * 1024;

pub type Chunks = BoxStream<'static, Result<Bytes, reqwest::Error>>;

/// What reading up to the commit point found.
pub enum Peeked {
    /// The client can be answered: `held` goes first, then whatever `rest` brings.
    Committed { held: Bytes, rest: Chunks },
    /// The stream broke, or went quiet past the idle timeout, before its first content.
    Failed(Code),
}

/// Reads `chunks` until its first event that carries content (or the holding limits), waiting
/// at most `idle` for each chunk.
pub async fn until_content(format: Format, mut chunks: Chunks, idle: Duration) -> Peeked {
    let mut held = BytesMut::new();
    let (mut scanned, mut events) = (0, 0);
    loop {
        let chunk = match tokio::time::timeout(idle, chunks.next()).await {
            Err(_) => return Peeked::Failed(Code::StreamIdleTimeout),
            Ok(Some(Err(_))) => return Peeked::Failed(Code::StreamBroken),
            // Ended with nothing but openings: the upstream cut it short.
            Ok(None) => return Peeked::Failed(Code::StreamEnded),
            Ok(Some(Ok(chunk))) => chunk,
        };
        held.extend_from_slice(&chunk);
        while let Some(end) = event_end(&held[scanned..]) {
            let event = &held[scanned..scanned + end];
            scanned += end;
            events += 1;
            if !is_preamble(format, event) || events >= MAX_HELD_EVENTS {
                return committed(held, chunks);
            }
        }
        if held.len() >= MAX_HELD_BYTES {
            return committed(held, chunks);
        }
    }
}

fn committed(held: BytesMut, rest: Chunks) -> Peeked {
    Peeked::Committed {
        held: held.freeze(),
        rest,
    }
}

/// The length of the first complete event in `buf`, its blank line included.
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let line = &buf[line_start..i];
        if line.is_empty() || line == b"\r" {
            return Some(i + 1);
        }
        line_start = i + 1;
    }
    None
}

/// Whether an event says nothing a client would show: an opening, a keep-alive, an empty delta.
/// Anything not known to be empty counts as content, so the rule can only hold too little.
pub fn is_preamble(format: Format, event: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(event) else {
        return false;
    };
    let (mut name, mut data) = (None, String::new());
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if data.is_empty() {
        // Comments and bare `event:` lines: keep-alives.
        return name.is_none_or(|n| n == "ping");
    }
    let Ok(json) = serde_json::from_str::<Value>(&data) else {
        return false;
    };
    let kind = name.or_else(|| json["type"].as_str()).unwrap_or("");
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

    #[test]
    fn events_end_at_their_blank_line_in_either_line_ending() {
        assert_eq!(event_end(b"data: a\n\ndata: b"), Some(9));
        assert_eq!(event_end(b"event: x\r\ndata: a\r\n\r\nrest"), Some(21));
        assert_eq!(event_end(b"data: a\n"), None);
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
            assert_eq!(
                is_preamble(Format::OpenAi, event.as_bytes()),
                held,
                "{event}"
            );
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
            ("event: error\ndata: {\"type\":\"error\"}", false),
        ];
        for (event, held) in anthropic {
            assert_eq!(
                is_preamble(Format::Anthropic, event.as_bytes()),
                held,
                "{event}"
            );
        }
    }

    fn chunks(parts: Vec<Result<&'static str, ()>>) -> Chunks {
        futures_util::stream::iter(parts.into_iter().map(|p| match p {
            Ok(s) => Ok(Bytes::from_static(s.as_bytes())),
            // A real reqwest error: a request to a URL that cannot be built.
            Err(()) => Err(reqwest::Client::new().get("http://[").build().unwrap_err()),
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
}
