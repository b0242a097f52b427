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
mod tests {
    use super::*;

    /// An event as a test reads it: name, data, whether whole.
    type Seen = (Option<String>, Option<String>, bool);

    /// Every event of `chunks` (and of the end of the stream).
    fn events(chunks: &[&[u8]]) -> Vec<Seen> {
        let mut reader = Reader::default();
        let mut seen = Vec::new();
        let mut record = |e: &Event<'_>| {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            seen.push((e.name.map(text), e.data.map(text), e.whole));
            ControlFlow::<()>::Continue(())
        };
        for chunk in chunks {
            let _ = reader.feed(chunk, &mut record);
        }
        let _ = reader.finish(&mut record);
        seen
    }

    /// `text` cut into reads at every pair of places (every single place included).
    fn every_split(text: &[u8], check: impl Fn(&[&[u8]])) {
        for i in 0..=text.len() {
            for j in i..=text.len() {
                check(&[&text[..i], &text[i..j], &text[j..]]);
            }
        }
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn lines_end_at_lf_crlf_or_cr_wherever_the_reads_split() {
        let want = vec![
            (some("message_start"), some("{\"a\":1}"), true),
            (None, some("x\ny"), true),
            (None, None, true),
            (some(""), some(""), true),
        ];
        let lf =
            "event: message_start\ndata: {\"a\":1}\n\ndata:x\ndata: y\n\n: ping\n\nevent\ndata\n\n";
        for ending in ["\n", "\r\n", "\r"] {
            let text = lf.replace('\n', ending);
            every_split(text.as_bytes(), |reads| {
                assert_eq!(events(reads), want, "{ending:?} read as {reads:?}");
            });
        }
    }

    #[test]
    fn fields_follow_the_sse_rules() {
        let cases: [(&str, Vec<Seen>); 7] = [
            // One space after the colon is dropped, a second kept; unknown fields ignored.
            (
                "data:  two\nid: 7\nretry: 10\n\n",
                vec![(None, some(" two"), true)],
            ),
            // The last name wins; a colon inside a value is the value's.
            (
                "event: a\nevent: b\ndata: {\"k\":\"v:w\"}\n\n",
                vec![(some("b"), some("{\"k\":\"v:w\"}"), true)],
            ),
            // Near misses of the field names are other fields.
            ("datum: x\nevents: y\nDATA: z\n\n", vec![(None, None, true)]),
            // Blank lines with nothing before them are no events.
            ("\n\n\r\n\r\r", vec![]),
            // A last event the upstream did not close ends with the stream.
            ("data: [DONE]", vec![(None, some("[DONE]"), true)]),
            ("data: [DONE]\r", vec![(None, some("[DONE]"), true)]),
            // CR then LF in one read is one line end, not a blank line.
            (
                "data: a\r\ndata: b\r\n\r\n",
                vec![(None, some("a\nb"), true)],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(events(&[text.as_bytes()]), want, "{text:?}");
        }
    }

    #[test]
    fn data_past_the_limit_is_cut_and_said_to_be() {
        let big = vec![b'x'; MAX_DATA + 10];
        let seen = events(&[
            b"data: ",
            &big[..MAX_DATA / 2],
            &big[MAX_DATA / 2..],
            b"\n\n",
        ]);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1.as_ref().unwrap().len(), MAX_DATA);
        assert!(!seen[0].2);
    }

    /// How a stream of `chunks` ended, by its first ending event.
    fn end_of(chunks: &[&[u8]]) -> Option<End> {
        let mut reader = Reader::default();
        let mut end = None;
        let mut check = |e: &Event<'_>| match e.end() {
            Some(found) => {
                end = Some(found);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        };
        for chunk in chunks {
            if reader.feed(chunk, &mut check).is_break() {
                return end;
            }
        }
        let _ = reader.finish(check);
        end
    }

    #[test]
    fn endings_are_events_not_words_in_the_text() {
        use End::{Done, Failed};
        let cases = [
            ("data: {\"a\":1}\n\ndata: [DONE]\n\n", Some(Done)),
            (
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
                Some(Done),
            ),
            ("data: {\"type\":\"message_stop\"}\n\n", Some(Done)),
            ("event: response.completed\ndata: {}\n\n", Some(Done)),
            (
                "data: {\"type\":\"response.incomplete\",\"response\":{}}\n\n",
                Some(Done),
            ),
            ("event: response.failed\ndata: {}\n\n", Some(Failed)),
            (
                "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n",
                Some(Failed),
            ),
            (
                "data: {\"error\":{\"message\":\"overloaded\"}}\n\n",
                Some(Failed),
            ),
            ("event: message\ndata: [DONE]\n\n", Some(Done)),
            // Content that mentions an ending is content.
            (
                "data: {\"choices\":[{\"delta\":{\"content\":\"[DONE]\"}}]}\n\n",
                None,
            ),
            (
                "data: {\"choices\":[{\"delta\":{\"content\":\"message_stop \\\"error\\\":\"}}]}\n\n",
                None,
            ),
            (
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"message_stop\"}}\n\n",
                None,
            ),
            (
                "data: {\"type\":\"response.output_text.delta\",\"delta\":\"response.completed\"}\n\n",
                None,
            ),
            ("data: {\"choices\":[],\"error\":null}\n\n", None),
            // A name decides alone, and an event with no data is none.
            (
                "event: content_block_delta\ndata: {\"type\":\"message_stop\"}\n\n",
                None,
            ),
            ("event: message_stop\n\n", None),
            (": [DONE]\n\n", None),
            // Cut before its end: no ending.
            ("data: [DONE", None),
            ("data: {\"type\":\"message_stop\"", None),
        ];
        for (text, want) in cases {
            for ending in ["\n", "\r\n", "\r"] {
                let text = text.replace('\n', ending);
                assert_eq!(end_of(&[text.as_bytes()]), want, "{text:?}");
            }
        }
    }

    #[test]
    fn an_ending_split_over_any_reads_is_found() {
        let streams = [
            "data: {\"a\":1}\n\ndata: [DONE]\n\n",
            "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n",
            "data: {\"type\":\"response.completed\"}\r\r",
        ];
        for text in streams {
            every_split(text.as_bytes(), |reads| {
                assert!(end_of(reads).is_some(), "{reads:?}");
            });
        }
        // One byte a read.
        let text = b"data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n";
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(end_of(&bytes), Some(End::Done));
    }

    #[test]
    fn a_stream_knows_when_it_stops_inside_an_event() {
        for (text, inside) in [
            ("data: a\n\n", false),
            ("data: a\n", true),
            ("data: a", true),
            ("data: a\r", true),
            (": c", true),
            ("", false),
        ] {
            let mut reader = Reader::default();
            let _ = reader.feed(text.as_bytes(), |_| ControlFlow::<()>::Continue(()));
            assert_eq!(reader.mid_event(), inside, "{text:?}");
        }
    }

    #[test]
    fn event_streams_are_known_by_their_media_type_in_any_case() {
        for (value, sse) in [
            ("text/event-stream", true),
            ("Text/Event-Stream", true),
            ("text/event-stream; charset=utf-8", true),
            (" TEXT/EVENT-STREAM ;charset=UTF-8", true),
            ("application/json", false),
            ("text/event-streams", false),
            ("text/plain; x=text/event-stream", false),
            ("", false),
        ] {
            assert_eq!(is_event_stream(value.as_bytes()), sse, "{value:?}");
        }
    }
}
