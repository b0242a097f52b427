//! Server-sent events read as they pass by: the bytes go on to the client unchanged, and this
//! reader tells where each event ends, with its `event:` name and its `data:`. Lines end at
//! CRLF, LF or CR, as the SSE rules say, and any byte may be the last of a read: the reader
//! keeps no line, only the fields it was asked about, so each byte is looked at once.

use std::borrow::Cow;
use std::ops::ControlFlow;

use serde::Deserialize;
use serde::de::IgnoredAny;

/// The most of one event's data kept to judge it by. An event with more (a long
/// `response.completed` carries the whole answer) is judged by its name alone.
pub const MAX_DATA: usize = 1 << 20;
/// Event names that matter are short; a longer one is none of them.
const MAX_NAME: usize = 64;
/// Above this, the data buffer gives its memory back after an event.
const KEPT_CAPACITY: usize = 64 * 1024;

/// Whether a `content-type` names an event stream: `text/event-stream` in any case, with or
/// without parameters.
pub fn is_event_stream(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"text/event-stream")
}

/// One event as it ended at its blank line.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The `event:` field, when there was one.
    pub name: Option<&'a [u8]>,
    /// The `data:` lines joined with LF; `None` when the event had none (a comment, a bare
    /// name), which a client never sees as an event.
    pub data: Option<&'a [u8]>,
    /// False when the data was longer than [`MAX_DATA`] and only its start was kept.
    pub whole: bool,
}

/// How a stream's upstream ended it, by its own last event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// OpenAI's `[DONE]`, Anthropic's `message_stop`, the Responses API's
    /// `response.completed` and `response.incomplete`.
    Done,
    /// An error the upstream sent itself: an `error` event, a data object with a top-level
    /// `error`, the Responses API's `response.failed`.
    Failed,
}

/// The fields of a JSON data object that tell an ending; the rest is skipped unread.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    error: Option<IgnoredAny>,
}

impl Event<'_> {
    pub fn name(&self) -> Option<&str> {
        self.name.and_then(|n| std::str::from_utf8(n).ok())
    }

    /// Whether this event ends the stream, and how. An event without data is none (a client
    /// never sees it); a name other than the default `message` decides alone; otherwise the
    /// data does (`[DONE]`, or a JSON object's `type` or `error`), so text that merely
    /// mentions an ending inside a delta is never one.
    pub fn end(&self) -> Option<End> {
        let data = self.data?;
        if let Some(name) = self.name.filter(|n| *n != b"message") {
            return ending(name);
        }
        if data.trim_ascii() == b"[DONE]" {
            return Some(End::Done);
        }
        // Most events name neither: no need to read them as JSON.
        let names = |key: &[u8]| memchr::memmem::find(data, key).is_some();
        if !self.whole || !(names(b"\"type\"") || names(b"\"error\"")) {
            return None;
        }
        let top: Top = serde_json::from_slice(data).ok()?;
        if top.error.is_some() {
            return Some(End::Failed);
        }
        ending(top.kind?.as_bytes())
    }
}

fn ending(kind: &[u8]) -> Option<End> {
    match kind {
        b"message_stop" | b"response.completed" | b"response.incomplete" => Some(End::Done),
        b"error" | b"response.failed" => Some(End::Failed),
        _ => None,
    }
}

/// Where the reader is in the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Reading the field's name, `len` bytes of it so far (only the first few are kept).
    Field { len: usize },
    /// Past the colon of `event:` or `data:`; `fresh` until the first value byte, which is
    /// dropped when it is a space.
    Value { field: Field, fresh: bool },
    /// A comment, or a field that does not matter here.
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Event,
    Data,
}

/// An incremental SSE reader: feed it each read in order.
#[derive(Debug)]
pub struct Reader {
    line: Line,
    /// The start of the current line's field name (enough to tell `event` and `data`).
    field: [u8; 5],
    /// The last read ended with a CR: an LF opening the next one is that line end's other half.
    after_cr: bool,
    /// A line other than a blank one since the last event.
    open: bool,
    name: Vec<u8>,
    has_name: bool,
    data: Vec<u8>,
    has_data: bool,
    cut: bool,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            line: Line::Field { len: 0 },
            field: [0; 5],
            after_cr: false,
            open: false,
            name: Vec::new(),
            has_name: false,
            data: Vec::new(),
            has_data: false,
            cut: false,
        }
    }
}

impl Reader {
    /// Reads `chunk`, calling `each` for every event it completes, until `each` breaks (the
    /// rest of the chunk is then left unread and the reader should not be fed again).
    pub fn feed<B>(
        &mut self,
        chunk: &[u8],
        mut each: impl FnMut(&Event<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let mut at = 0;
        while at < chunk.len() {
            if std::mem::take(&mut self.after_cr) && chunk[at] == b'\n' {
                at += 1;
                continue;
            }
            let Some(n) = memchr::memchr2(b'\n', b'\r', &chunk[at..]) else {
                self.part(&chunk[at..]);
                break;
            };
            self.part(&chunk[at..at + n]);
            self.after_cr = chunk[at + n] == b'\r';
            at += n + 1;
            if self.end_line() {
                each(&self.event())?;
                self.reset();
            }
        }
        ControlFlow::Continue(())
    }

    /// The stream ended: a last line or event left open counts as ended there (an upstream
    /// that closes right after `data: [DONE]` meant it).
    pub fn finish<B>(&mut self, each: impl FnOnce(&Event<'_>) -> ControlFlow<B>) -> ControlFlow<B> {
        if self.line != (Line::Field { len: 0 }) {
            self.end_line();
        }
        if !self.open {
            return ControlFlow::Continue(());
        }
        let flow = each(&self.event());
        self.reset();
        flow
    }

    /// Whether the bytes so far stop inside an event: anything the gateway adds must first
    /// close it, or a client would read the addition as part of it.
    pub fn mid_event(&self) -> bool {
        self.open || self.line != (Line::Field { len: 0 })
    }

    /// Bytes of the current line, with no line end among them.
    fn part(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.line {
                Line::Skipped => return,
                Line::Field { len } => {
                    if len == 0 && bytes[0] == b':' {
                        self.line = Line::Skipped;
                        return;
                    }
                    let name_end = memchr::memchr(b':', bytes);
                    let name = &bytes[..name_end.unwrap_or(bytes.len())];
                    for (i, &b) in name.iter().enumerate() {
                        if let Some(slot) = self.field.get_mut(len + i) {
                            *slot = b;
                        }
                    }
                    let len = len + name.len();
                    self.line = Line::Field { len };
                    let Some(colon) = name_end else { return };
                    self.line = match self.known(len) {
                        Some(field) => {
                            self.start_value(field);
                            Line::Value { field, fresh: true }
                        }
                        None => Line::Skipped,
                    };
                    bytes = &bytes[colon + 1..];
                }
                Line::Value { field, fresh } => {
                    if fresh {
                        self.line = Line::Value {
                            field,
                            fresh: false,
                        };
                        if bytes[0] == b' ' {
                            bytes = &bytes[1..];
                            continue;
                        }
                    }
                    match field {
                        Field::Event => keep(&mut self.name, bytes, MAX_NAME, &mut false),
                        Field::Data => keep(&mut self.data, bytes, MAX_DATA, &mut self.cut),
                    }
                    return;
                }
            }
        }
    }

    /// The field named by the `len` bytes read, if it is one this reader keeps.
    fn known(&self, len: usize) -> Option<Field> {
        match &self.field[..len.min(5)] {
            b"event" if len == 5 => Some(Field::Event),
            b"data" if len == 4 => Some(Field::Data),
            _ => None,
        }
    }

    fn start_value(&mut self, field: Field) {
        match field {
            Field::Event => {
                self.name.clear();
                self.has_name = true;
            }
            Field::Data => {
                if self.has_data {
                    keep(&mut self.data, b"\n", MAX_DATA, &mut self.cut);
                }
                self.has_data = true;
            }
        }
    }

    /// A line ended; whether it was the blank line that ends an event.
    fn end_line(&mut self) -> bool {
        let line = std::mem::replace(&mut self.line, Line::Field { len: 0 });
        match line {
            Line::Field { len: 0 } => return self.open,
            // A field name with no colon: the field with an empty value.
            Line::Field { len } => {
                if let Some(field) = self.known(len) {
                    self.start_value(field);
                }
            }
            Line::Value { .. } | Line::Skipped => {}
        }
        self.open = true;
        false
    }

    fn event(&self) -> Event<'_> {
        Event {
            name: self.has_name.then_some(&self.name[..]),
            data: self.has_data.then_some(&self.data[..]),
            whole: !self.cut,
        }
    }

    fn reset(&mut self) {
        self.open = false;
        self.has_name = false;
        self.has_data = false;
        self.cut = false;
        self.name.clear();
        self.data.clear();
        if self.data.capacity() > KEPT_CAPACITY {
            self.data.shrink_to(KEPT_CAPACITY);
        }
    }
}

/// Appends what fits under `max` of `bytes` to `buf`, noting in `cut` when some did not.
fn keep(buf: &mut Vec<u8>, bytes: &[u8], max: usize, cut: &mut bool) {
    let room = max.saturating_sub(buf.len());
    if bytes.len() > room {
        *cut = true;
    }
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

#[cfg(test)]
mod tests;
