//! Where an attempt's secrets are in a text, and the text with them masked. Occurrences that
//! share a byte — of one secret or of two, one of them inside the other — are one masked run,
//! so no byte of either is left; occurrences that merely touch are two. A body is masked read
//! by read with the same result as whole: a read's end that could begin a secret is held back,
//! and a run that reaches into what is held is carried over as begun.

use bytes::{Bytes, BytesMut};
use memchr::memmem;
use zeroize::Zeroizing;

/// How many mask bytes stand for each run, whatever the secrets' lengths.
const MASK_LEN: usize = 8;

/// Mask bytes in order of preference: none means anything in JSON, SSE or a header value.
const MASKS: &[u8] = b"*#~^_=+%@";

/// What an attempt sends that must not come back.
pub(super) struct Secrets {
    /// The provider key, as the request's header sends it (an empty one included).
    pub(super) key: Option<Zeroizing<String>>,
    /// The credential headers' values, opened for this attempt; none empty.
    headers: Vec<Zeroizing<String>>,
    /// A byte no secret has: a mask of it cannot, joined with what is around it, spell a
    /// secret again (a key with `*` in it would, under a mask of stars).
    mask: u8,
}

/// What a body holds back between reads.
#[derive(Default)]
pub(super) struct Held {
    /// The end of the reads so far that could begin a secret.
    bytes: BytesMut,
    /// How many of `bytes` a run already masked covers.
    covered: usize,
}

impl Secrets {
    pub(super) fn new(
        key: Option<Zeroizing<String>>,
        mut headers: Vec<Zeroizing<String>>,
    ) -> Secrets {
        headers.retain(|h| !h.is_empty());
        let mut secrets = Secrets {
            key,
            headers,
            mask: b'*',
        };
        // A secret sent in a header has no DEL (0x7f), the last resort.
        secrets.mask = MASKS
            .iter()
            .copied()
            .chain(0x21..=0x7f)
            .find(|b| !secrets.all().any(|s| s.contains(b)))
            .unwrap_or(b'*');
        secrets
    }

    /// The secrets there is something of to mask: an empty key (an `env.NAME` set to
    /// nothing) is sent as it is, but has nothing to mask.
    fn all(&self) -> impl Iterator<Item = &[u8]> {
        let key = self
            .key
            .iter()
            .map(|k| k.as_bytes())
            .filter(|k| !k.is_empty());
        key.chain(self.headers.iter().map(|h| h.as_bytes()))
    }

    pub(super) fn any(&self) -> bool {
        self.all().next().is_some()
    }

    /// Whether `text` holds a whole secret.
    pub(super) fn found_in(&self, text: &[u8]) -> bool {
        self.all().any(|s| memmem::find(text, s).is_some())
    }

    /// `text` with every occurrence masked.
    pub(super) fn masked(&self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        self.mask_into(text, text.len(), 0, &mut out);
        out
    }

    /// Writes `text[..cut]` into `out`, the runs of the occurrences that begin before `cut`
    /// masked; the first `covered` bytes belong to a run already masked. Answers how many
    /// bytes from `cut` on those runs cover.
    fn mask_into(&self, text: &[u8], cut: usize, covered: usize, out: &mut Vec<u8>) -> usize {
        let mut spans = Vec::new();
        for secret in self.all() {
            // An occurrence that begins before `cut` ends before this.
            let limit = (cut + secret.len() - 1).min(text.len());
            let finder = memmem::Finder::new(secret);
            let mut at = 0;
            while let Some(i) = finder.find(&text[at..limit]) {
                spans.push((at + i, at + i + secret.len()));
                at += i + 1;
            }
        }
        spans.sort_unstable();
        // Where the current run ends: what is before it is written.
        let mut end = covered;
        for (start, stop) in spans {
            if start < end {
                end = end.max(stop);
                continue;
            }
            out.extend_from_slice(&text[end..start]);
            out.extend(std::iter::repeat_n(self.mask, MASK_LEN));
            end = stop;
        }
        if end < cut {
            out.extend_from_slice(&text[end..cut]);
        }
        end.saturating_sub(cut)
    }

    /// How many bytes at the end of `text` begin a secret without completing it: the longest
    /// such end, as each secret's first byte finds it.
    pub(super) fn beginning(&self, text: &[u8]) -> usize {
        let one = |secret: &[u8]| {
            let start = text.len().saturating_sub(secret.len() - 1);
            memchr::memchr_iter(secret[0], &text[start..])
                .map(|at| &text[start + at..])
                .find(|end| secret.starts_with(end))
                .map_or(0, <[u8]>::len)
        };
        self.all().map(one).max().unwrap_or(0)
    }

    /// One read on its way: what goes on now; `held` keeps what could begin a secret.
    pub(super) fn pass(&self, chunk: Bytes, held: &mut Held) -> Bytes {
        if held.bytes.is_empty() && !self.found_in(&chunk) {
            let keep = chunk.len() - self.beginning(&chunk);
            held.bytes.extend_from_slice(&chunk[keep..]);
            return chunk.slice(..keep);
        }
        let mut joined = held.bytes.split();
        joined.extend_from_slice(&chunk);
        let cut = joined.len() - self.beginning(&joined);
        let mut out = Vec::with_capacity(cut + MASK_LEN);
        held.covered = self.mask_into(&joined, cut, held.covered, &mut out);
        held.bytes.extend_from_slice(&joined[cut..]);
        out.into()
    }

    /// What is held when the body ends, its secrets masked: a part of one on its own passes.
    pub(super) fn rest(&self, held: &mut Held) -> Bytes {
        let held = std::mem::take(held);
        let mut out = Vec::with_capacity(held.bytes.len());
        self.mask_into(&held.bytes, held.bytes.len(), held.covered, &mut out);
        out.into()
    }
}

#[cfg(test)]
impl Held {
    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}
