//! The token counts and stop reason of an answer, read from what the upstream sent as it
//! passes — never invented. OpenAI's `usage` (a body's, or a stream's last chunk), Anthropic's
//! `message_start` and `message_delta` (cumulative: each field's last value wins, nothing is
//! summed), the Responses API's `response.completed`. A stream is read event by event; a body
//! up to [`WHOLE_BODY`] is parsed at its end, and of a larger one only the last
//! [`TAIL`] bytes are searched. Counts the upstream did not report stay unknown.

use std::ops::ControlFlow;

use bytes::Bytes;
use memchr::memmem;
use serde::Deserialize;
use serde_json::Value;

use super::super::attempt::sse::{End, Event, Reader};
use crate::domain::surface::Surface;
use crate::domain::usage::Tokens;

/// Bodies up to this size are parsed whole at their end.
pub const WHOLE_BODY: usize = 1 << 20;
/// Of a larger body, only this much of its end is searched for its usage.
pub const TAIL: usize = 64 * 1024;

/// Each count as last reported.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Reported {
    /// All input, the cached part included (OpenAI's shape), or the uncached input alone
    /// (Anthropic's), as `cached_in_input` says.
    input: Option<u64>,
    cached_in_input: bool,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
    reasoning: Option<u64>,
    stop: Option<String>,
    failed: bool,
}

impl Reported {
    fn tokens(&self) -> Tokens {
        let known = self.input.is_some() || self.output.is_some();
        let cache_read = self.cache_read.unwrap_or(0);
        let input = self.input.unwrap_or(0);
        Tokens {
            input: match self.cached_in_input {
                true => input.saturating_sub(cache_read),
                false => input,
            },
            output: self.output.unwrap_or(0),
            cache_read,
            cache_write: self.cache_write.unwrap_or(0),
            reasoning: self.reasoning.unwrap_or(0),
            known,
        }
    }

    /// Takes the counts of a `usage` object, each field over the one before.
    fn usage(&mut self, usage: &Value, surface: Surface) {
        let n = |v: &Value, path: &[&str]| {
            path.iter()
                .try_fold(v, |v, key| v.get(key))
                .and_then(Value::as_u64)
        };
        let set = |slot: &mut Option<u64>, found: Option<u64>| {
            if found.is_some() {
                *slot = found;
            }
        };
        if usage.get("prompt_tokens").is_some() {
            // Chat completions, completions, embeddings.
            self.cached_in_input = true;
            set(&mut self.input, n(usage, &["prompt_tokens"]));
            set(&mut self.output, n(usage, &["completion_tokens"]));
            set(
                &mut self.cache_read,
                n(usage, &["prompt_tokens_details", "cached_tokens"]),
            );
            set(
                &mut self.reasoning,
                n(usage, &["completion_tokens_details", "reasoning_tokens"]),
            );
        } else if surface == Surface::Responses {
            self.cached_in_input = true;
            set(&mut self.input, n(usage, &["input_tokens"]));
            set(&mut self.output, n(usage, &["output_tokens"]));
            set(
                &mut self.cache_read,
                n(usage, &["input_tokens_details", "cached_tokens"]),
            );
            set(
                &mut self.reasoning,
                n(usage, &["output_tokens_details", "reasoning_tokens"]),
            );
        } else {
            // Anthropic's messages (and count_tokens' `input_tokens`).
            set(&mut self.input, n(usage, &["input_tokens"]));
            set(&mut self.output, n(usage, &["output_tokens"]));
            set(&mut self.cache_read, n(usage, &["cache_read_input_tokens"]));
            set(
                &mut self.cache_write,
                n(usage, &["cache_creation_input_tokens"]),
            );
        }
    }

    /// Takes what one JSON object of the answer says: a whole body, or a stream's event.
    fn object(&mut self, said: &Said, surface: Surface) {
        let usage = said
            .usage
            .as_ref()
            .or_else(|| said.message.as_ref().and_then(|m| m.usage.as_ref()))
            .or_else(|| said.response.as_ref().and_then(|r| r.usage.as_ref()))
            .filter(|u| u.is_object());
        if let Some(usage) = usage {
            self.usage(usage, surface);
        }
        if let Some(stop) = stop_reason(said, surface) {
            self.stop = Some(stop.to_owned());
        }
    }
}

/// What the gateway reads of an answer's JSON (a body, or a stream event's data): the rest
/// is skipped as it is parsed, never built into a tree — a body's `choices` or `output` can
/// be most of it. A small field of another type than expected (a Responses event's `delta`
/// is a string) reads as absent, so it never costs the counts beside it. The containers
/// (`message`, `response`, `choices`) are read as they are, not through [`lenient`], which
/// would buffer each whole before trying it: the formats fix their types.
#[derive(Default, Deserialize)]
struct Said {
    usage: Option<Value>,
    #[serde(default)]
    message: Option<Nested>,
    #[serde(default)]
    response: Option<Nested>,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default, deserialize_with = "lenient")]
    stop_reason: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    delta: Option<Delta>,
    #[serde(default, deserialize_with = "lenient")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    incomplete_details: Option<Incomplete>,
}

/// A Responses event's `response`, or an Anthropic `message_start`'s `message`.
#[derive(Deserialize)]
struct Nested {
    usage: Option<Value>,
    #[serde(default, deserialize_with = "lenient")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    incomplete_details: Option<Incomplete>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default, deserialize_with = "lenient")]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default, deserialize_with = "lenient")]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct Incomplete {
    #[serde(default, deserialize_with = "lenient")]
    reason: Option<String>,
}

/// `T` when the value is one, `None` for anything else (`null` included).
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Or<T> {
        Is(T),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Or::<T>::deserialize(deserializer)? {
        Or::Is(value) => Some(value),
        Or::Other(_) => None,
    })
}

fn stop_reason(said: &Said, surface: Surface) -> Option<&str> {
    match surface {
        Surface::Responses => {
            let (details, status) = match &said.response {
                Some(r) => (&r.incomplete_details, &r.status),
                None => (&said.incomplete_details, &said.status),
            };
            details
                .as_ref()
                .and_then(|d| d.reason.as_deref())
                .or(status.as_deref())
                .filter(|s| *s != "in_progress")
        }
        _ => said
            .choices
            .as_ref()
            .and_then(|c| c.first())
            .and_then(|c| c.finish_reason.as_deref())
            .or(said.stop_reason.as_deref())
            .or_else(|| said.delta.as_ref().and_then(|d| d.stop_reason.as_deref())),
    }
}

/// Whether `data` may say anything counted: a `usage` object, or a stop reason that is a
/// string. Most of a stream's events say neither (OpenAI's chunks carry `"usage":null` and
/// `"finish_reason":null` until the end), and are passed over without being parsed.
fn may_count(data: &[u8]) -> bool {
    valued(data, b"\"usage\"", b'{')
        || valued(data, b"\"finish_reason\"", b'"')
        || valued(data, b"\"stop_reason\"", b'"')
        || memmem::find(data, b"\"status\"").is_some() && memmem::find(data, b"response.").is_some()
}

/// Whether `key` appears in `data` with a value starting with `first`.
fn valued(data: &[u8], key: &[u8], first: u8) -> bool {
    memmem::find_iter(data, key).any(|at| {
        let mut rest = data[at + key.len()..]
            .iter()
            .skip_while(|b| b.is_ascii_whitespace());
        rest.next() == Some(&b':') && rest.find(|b| !b.is_ascii_whitespace()) == Some(&first)
    })
}

/// What an answer's body said, read as it passes.
pub struct Meter {
    surface: Surface,
    /// For a stream: its events.
    events: Option<Reader>,
    /// For a body: its chunks while it fits in [`WHOLE_BODY`], then only its last [`TAIL`].
    chunks: std::collections::VecDeque<Bytes>,
    kept: usize,
    overflowed: bool,
    reported: Reported,
}

impl Meter {
    pub fn new(surface: Surface, stream: bool) -> Meter {
        Meter {
            surface,
            events: stream.then(Reader::default),
            chunks: Default::default(),
            kept: 0,
            overflowed: false,
            reported: Reported::default(),
        }
    }

    pub fn feed(&mut self, chunk: &Bytes) {
        let (surface, reported) = (self.surface, &mut self.reported);
        match &mut self.events {
            Some(events) => {
                let _ = events.feed(chunk, |e| {
                    event(e, surface, reported);
                    ControlFlow::<()>::Continue(())
                });
            }
            None => {
                self.kept += chunk.len();
                self.chunks.push_back(chunk.clone());
                if self.kept > WHOLE_BODY {
                    self.overflowed = true;
                }
                if self.overflowed {
                    // Chunks are Bytes: keeping them costs a reference, not a copy.
                    while let Some(first) = self.chunks.front()
                        && self.kept - first.len() >= TAIL
                    {
                        self.kept -= first.len();
                        self.chunks.pop_front();
                    }
                }
            }
        }
    }

    /// What the body said, once it has ended.
    pub fn finish(mut self) -> Read {
        let surface = self.surface;
        match &mut self.events {
            Some(events) => {
                let reported = &mut self.reported;
                let _ = events.finish(|e| {
                    event(e, surface, reported);
                    ControlFlow::<()>::Continue(())
                });
            }
            None => {
                // One read is the usual body: no copy of it.
                let body: std::borrow::Cow<'_, [u8]> = match self.chunks.len() {
                    1 => std::borrow::Cow::Borrowed(&self.chunks[0][..]),
                    _ => {
                        let mut whole = Vec::with_capacity(self.kept);
                        for chunk in &self.chunks {
                            whole.extend_from_slice(chunk);
                        }
                        std::borrow::Cow::Owned(whole)
                    }
                };
                if !self.overflowed {
                    if let Ok(said) = serde_json::from_slice::<Said>(&body) {
                        self.reported.object(&said, surface);
                    }
                } else {
                    tail(&body, surface, &mut self.reported);
                }
            }
        }
        Read {
            tokens: self.reported.tokens(),
            stop: self.reported.stop.take(),
            failed: self.reported.failed,
        }
    }
}

/// What an answer's body said of itself.
#[derive(Debug, PartialEq, Eq)]
pub struct Read {
    pub tokens: Tokens,
    pub stop: Option<String>,
    /// A stream ended with an error event: the upstream's own, or the one the gateway adds
    /// when a stream breaks, stalls or stops before its end.
    pub failed: bool,
}

fn event(e: &Event<'_>, surface: Surface, reported: &mut Reported) {
    if e.end() == Some(End::Failed) {
        reported.failed = true;
    }
    let Some(data) = e.data.filter(|_| e.whole) else {
        return;
    };
    if !may_count(data) {
        return;
    }
    if let Ok(said) = serde_json::from_slice::<Said>(data) {
        reported.object(&said, surface);
    }
}

/// The end of a body too large to parse: its last `usage` object, and its last stop reason.
fn tail(body: &[u8], surface: Surface, reported: &mut Reported) {
    if let Some(at) = memmem::rfind(body, b"\"usage\"")
        && let Some(object) = object_after(&body[at + 7..])
        && let Ok(v) = serde_json::from_slice::<Value>(object)
    {
        reported.usage(&v, surface);
    }
    for key in [&b"\"finish_reason\""[..], b"\"stop_reason\"", b"\"status\""] {
        if let Some(at) = memmem::rfind(body, key)
            && let Some(text) = string_after(&body[at + key.len()..])
        {
            reported.stop = Some(text);
            break;
        }
    }
}

/// The JSON object that `: {…}` starts after a key, up to its matching brace.
fn object_after(rest: &[u8]) -> Option<&[u8]> {
    let start = rest
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != b':')?;
    (rest[..start].contains(&b':') && rest[start] == b'{').then_some(())?;
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in rest[start..].iter().enumerate() {
        match (in_string, b) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') => in_string = false,
            (true, _) => {}
            (false, b'"') => in_string = true,
            (false, b'{') => depth += 1,
            (false, b'}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[start..=start + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The string that `: "…"` holds after a key.
fn string_after(rest: &[u8]) -> Option<String> {
    let start = rest
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != b':')?;
    if !rest[..start].contains(&b':') || rest[start] != b'"' {
        return None;
    }
    let end = memchr::memchr(b'"', &rest[start + 1..])?;
    String::from_utf8(rest[start + 1..start + 1 + end].to_vec()).ok()
}

#[cfg(test)]
mod tests;
