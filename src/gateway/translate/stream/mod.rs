//! Streams translated as they arrive, never buffered whole: the provider's server-sent events
//! read event by event (an event split over any number of reads, in any line ending), each
//! turned at once into the caller's — OpenAI chunks into Anthropic's `message_start`,
//! `content_block_start`/`delta`/`stop` (text, thinking, `input_json_delta` tool arguments),
//! `message_delta` (stop reason, usage) and `message_stop` (`to_anthropic`), Anthropic's events
//! into OpenAI chunks ending with `data: [DONE]` (`to_openai`). Error events are re-shaped too.

mod to_anthropic;
mod to_openai;

#[cfg(test)]
mod tests;

use serde_json::Value;

use super::Direction;

/// One stream's translation: bytes of the provider's events in, bytes of the caller's out.
pub struct Translator {
    lines: Lines,
    side: Side,
}

enum Side {
    ToAnthropic(to_anthropic::State),
    ToOpenAi(to_openai::State),
}

impl Translator {
    /// A stream answering `model` (the caller's name for it); `include_usage`: the OpenAI
    /// caller asked for the usage chunk (`stream_options.include_usage`); `created`: seconds
    /// since the epoch, for OpenAI's chunks.
    pub fn new(direction: Direction, model: &str, include_usage: bool, created: u64) -> Translator {
        let side = match direction {
            Direction::MessagesToChat => Side::ToAnthropic(to_anthropic::State::new(model)),
            Direction::ChatToMessages => {
                Side::ToOpenAi(to_openai::State::new(model, include_usage, created))
            }
        };
        Translator {
            lines: Lines::default(),
            side,
        }
    }

    /// What `chunk` of the provider's stream completes, in the caller's format (often
    /// nothing: an event cut in two waits for its end).
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let side = &mut self.side;
        self.lines
            .feed(chunk, |event| translate(side, event, &mut out));
        out
    }

    /// The provider's stream ended: its last event, if it was left without its blank line.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let side = &mut self.side;
        self.lines.finish(|event| translate(side, event, &mut out));
        out
    }
}

fn translate(side: &mut Side, event: Event, out: &mut Vec<u8>) {
    if event.data.trim() == "[DONE]" {
        if let Side::ToAnthropic(state) = side {
            state.done(out);
        }
        return;
    }
    // Data that is no JSON (a provider's own comment in a data line) tells the caller nothing.
    let Ok(data) = serde_json::from_str::<Value>(&event.data) else {
        return;
    };
    match side {
        Side::ToAnthropic(state) => state.chunk(&data, out),
        Side::ToOpenAi(state) => state.event(event.name.as_deref(), &data, out),
    }
}

/// One server-sent event: its `event:` name and its `data:` lines joined.
#[derive(Debug, Default)]
struct Event {
    name: Option<String>,
    data: String,
    any: bool,
}

/// Server-sent events split out of reads: lines end in `\n`, `\r\n` or `\r`; an empty line
/// ends an event; comment lines (`:` keep-alives) and other fields are skipped.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    /// The last byte read was a `\r`: a `\n` right after it ends no second line.
    after_cr: bool,
    event: Event,
}

/// The most of one line kept while it is incomplete: an event no translation could use is
/// not held without bound.
const MOST_LINE_BYTES: usize = 16 << 20;

impl Lines {
    fn feed(&mut self, mut chunk: &[u8], mut dispatch: impl FnMut(Event)) {
        // A line's bytes are copied in one go up to its end, not byte by byte: a long stream
        // is mostly such runs.
        while !chunk.is_empty() {
            if std::mem::take(&mut self.after_cr) && chunk[0] == b'\n' {
                chunk = &chunk[1..];
                continue;
            }
            let Some(at) = memchr::memchr2(b'\n', b'\r', chunk) else {
                self.keep(chunk);
                return;
            };
            self.keep(&chunk[..at]);
            self.after_cr = chunk[at] == b'\r';
            self.line(&mut dispatch);
            chunk = &chunk[at + 1..];
        }
    }

    /// Part of a line, up to [`MOST_LINE_BYTES`] of it.
    fn keep(&mut self, part: &[u8]) {
        let room = MOST_LINE_BYTES.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&part[..part.len().min(room)]);
    }

    fn finish(&mut self, mut dispatch: impl FnMut(Event)) {
        if !self.partial.is_empty() {
            self.line(&mut dispatch);
        }
        if self.event.any {
            dispatch(std::mem::take(&mut self.event));
        }
    }

    fn line(&mut self, dispatch: &mut impl FnMut(Event)) {
        if self.partial.is_empty() {
            if self.event.any {
                dispatch(std::mem::take(&mut self.event));
            }
            return;
        }
        let line = String::from_utf8_lossy(&self.partial);
        let (field, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        let event = &mut self.event;
        match field {
            "event" => event.name = Some(value.to_owned()),
            "data" => {
                if event.any && !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(value);
            }
            _ => {
                self.partial.clear();
                return;
            }
        }
        event.any = true;
        self.partial.clear();
    }
}

/// Anthropic's event on the wire.
fn anthropic_event(out: &mut Vec<u8>, data: &Value) {
    let name = data.get("type").and_then(Value::as_str).unwrap_or("error");
    out.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
}

/// `text` as a JSON string, escaped as serde_json escapes it in a `Value`.
fn json_string(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// OpenAI's chunk on the wire.
fn openai_chunk(out: &mut Vec<u8>, data: &Value) {
    out.extend_from_slice(format!("data: {data}\n\n").as_bytes());
}

/// The status an error type in a stream stands for, so that it is re-shaped as an upstream's
/// error answer of that status would be.
fn status_of(error_type: Option<&str>) -> u16 {
    match error_type {
        Some("invalid_request_error") => 400,
        Some("authentication_error") => 401,
        Some("permission_error") => 403,
        Some("not_found_error") => 404,
        Some("request_too_large") => 413,
        Some("rate_limit_error") => 429,
        Some("overloaded_error") => 529,
        _ => 500,
    }
}

/// An error event's body in the caller's shape.
fn error_body(direction: Direction, data: &Value) -> Value {
    let error_type = data["error"].get("type").and_then(Value::as_str);
    let body = serde_json::to_vec(data).unwrap_or_default();
    let shaped = super::error(direction, status_of(error_type), &body);
    serde_json::from_slice(&shaped).unwrap_or(Value::Null)
}
