//! The usage-only chunk of an OpenAI-format stream (`"choices": []` with a `usage` object)
//! taken out of what the caller gets, when the gateway asked for it and the caller did not
//! (`plan::stream_usage`). Every other byte passes unchanged and in order. Events are cut at
//! their blank line as the SSE grammar has it (LF, CRLF or CR line ends, a CRLF possibly
//! split across reads). An event not yet ended is held only while it could still be the
//! usage-only chunk: once its first bytes show it cannot (its data is no JSON object, or its
//! `choices` are not empty), what came of it goes on at once, and the rest as it arrives.

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt};
use memchr::memmem;
use serde::Deserialize;
use serde::de::IgnoredAny;

type Body = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// `body` without its usage-only chunk.
pub fn without_usage_chunk(body: Body) -> Body {
    stream::unfold(Some((body, Strip::new())), |state| async move {
        let (mut body, mut strip) = state?;
        loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    let out = strip.push(chunk);
                    if !out.is_empty() {
                        return Some((Ok(out), Some((body, strip))));
                    }
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None => {
                    let rest = strip.finish();
                    return (!rest.is_empty()).then_some((Ok(rest), None));
                }
            }
        }
    })
    .boxed()
}

/// Where the scan of the stream stands, carried from one read to the next.
struct Strip {
    /// The start of an event not yet ended, from earlier reads.
    held: BytesMut,
    /// Nothing but line ends since the last line end (so the next one is a blank line).
    line_empty: bool,
    /// The last byte was a CR: an LF now belongs to it.
    after_cr: bool,
    /// That CR ended a blank line: the event ends after it, or after its LF.
    cr_ends_event: bool,
    /// The event under way cannot be the usage-only chunk: its bytes go on as they come.
    passing: bool,
}

impl Strip {
    fn new() -> Strip {
        Strip {
            held: BytesMut::new(),
            line_empty: true,
            after_cr: false,
            cr_ends_event: false,
            passing: false,
        }
    }

    /// What of `chunk` (with what was held) may go now.
    fn push(&mut self, chunk: Bytes) -> Bytes {
        let mut out = Out::default();
        let mut start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if std::mem::take(&mut self.after_cr) {
                let ends = std::mem::take(&mut self.cr_ends_event);
                if b == b'\n' {
                    if ends {
                        self.end_event(&chunk, &mut start, i + 1, &mut out);
                    }
                    continue;
                }
                if ends {
                    self.end_event(&chunk, &mut start, i, &mut out);
                }
            }
            match b {
                b'\n' if self.line_empty => self.end_event(&chunk, &mut start, i + 1, &mut out),
                b'\n' => self.line_empty = true,
                b'\r' => {
                    self.after_cr = true;
                    self.cr_ends_event = self.line_empty;
                    self.line_empty = true;
                }
                _ => self.line_empty = false,
            }
        }
        if self.passing {
            if start < chunk.len() {
                out.push(chunk.slice(start..));
            }
        } else {
            self.held.extend_from_slice(&chunk[start..]);
            if !self.held.is_empty() && cannot_be_usage_only(&self.held) {
                out.push(self.held.split().freeze());
                self.passing = true;
            }
        }
        out.into_bytes(&chunk)
    }

    /// The event that ends at `end` of `chunk`: passed on unless it is the usage-only one.
    fn end_event(&mut self, chunk: &Bytes, start: &mut usize, end: usize, out: &mut Out) {
        if std::mem::take(&mut self.passing) {
            out.push(chunk.slice(*start..end));
            *start = end;
            return;
        }
        let event = if self.held.is_empty() {
            chunk.slice(*start..end)
        } else {
            self.held.extend_from_slice(&chunk[*start..end]);
            self.held.split().freeze()
        };
        *start = end;
        if !is_usage_only(&event) {
            out.push(event);
        }
    }

    /// What is left when the stream ends: an unended event goes as it is, unless it is the
    /// usage-only one.
    fn finish(&mut self) -> Bytes {
        let rest = self.held.split().freeze();
        if is_usage_only(&rest) {
            Bytes::new()
        } else {
            rest
        }
    }
}

/// The events that go, joined without a copy when they are one run of the read.
#[derive(Default)]
struct Out {
    events: Vec<Bytes>,
}

impl Out {
    fn push(&mut self, event: Bytes) {
        self.events.push(event);
    }

    fn into_bytes(self, chunk: &Bytes) -> Bytes {
        match self.events.len() {
            0 => Bytes::new(),
            1 => self.events.into_iter().next().unwrap_or_default(),
            _ if self.contiguous(chunk) => {
                let first = self.events[0].as_ptr() as usize - chunk.as_ptr() as usize;
                let len: usize = self.events.iter().map(Bytes::len).sum();
                chunk.slice(first..first + len)
            }
            _ => self.events.concat().into(),
        }
    }

    /// Whether every event is a slice of `chunk`, each right after the one before.
    fn contiguous(&self, chunk: &Bytes) -> bool {
        let range = chunk.as_ptr_range();
        let inside = |e: &Bytes| {
            let r = e.as_ptr_range();
            r.start >= range.start && r.end <= range.end
        };
        self.events.iter().all(inside)
            && self
                .events
                .windows(2)
                .all(|w| w[0].as_ptr_range().end == w[1].as_ptr())
    }
}

/// Whether the start of an event already shows it is not the usage-only chunk: its data is
/// not a JSON object, or its `choices` hold something.
fn cannot_be_usage_only(start: &[u8]) -> bool {
    let Some(at) = memmem::find(start, b"data:") else {
        return false;
    };
    let data = &start[at + 5..];
    let mut bytes = data.iter().copied().skip_while(|&b| b == b' ');
    if bytes.next().is_some_and(|b| b != b'{') {
        return true;
    }
    let Some(at) = memmem::find(data, b"\"choices\"") else {
        return false;
    };
    let mut after = data[at + 9..]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace());
    after.next() == Some(b':')
        && after.next() == Some(b'[')
        && after.next().is_some_and(|b| b != b']')
}

/// The shape of the chunk to take out: no choices, a usage object.
#[derive(Deserialize)]
struct UsageOnly {
    choices: Vec<IgnoredAny>,
    usage: Option<serde_json::Map<String, serde_json::Value>>,
}

fn is_usage_only(event: &[u8]) -> bool {
    if memmem::find(event, b"\"usage\"").is_none() {
        return false;
    }
    let data: Vec<&[u8]> = event
        .split(|&b| b == b'\n' || b == b'\r')
        .filter_map(|line| line.strip_prefix(b"data:"))
        .map(|d| d.strip_prefix(b" ").unwrap_or(d))
        .collect();
    serde_json::from_slice::<UsageOnly>(&data.join(&b'\n'))
        .is_ok_and(|c| c.choices.is_empty() && c.usage.is_some())
}

#[cfg(test)]
mod tests;
