//! The provider key an attempt was made with, kept out of everything passed back: an upstream
//! may echo the key in an error's message or a header (OpenAI's "Incorrect API key provided"),
//! and a client must never learn it from the gateway. Every whole occurrence of the key's bytes
//! — in the headers that go back, in the body however it is cut into reads, in the gateway's
//! own words about the attempt — becomes `********`. A key of any length is scrubbed: a short
//! key is still a secret. A part of the key on its own is passed on as it came.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt};
use memchr::memmem;
use zeroize::Zeroizing;

/// How many mask bytes stand for each occurrence, whatever the key's length.
const MASK_LEN: usize = 8;

/// Mask bytes in order of preference: none means anything in JSON, SSE or a header value.
const MASKS: &[u8] = b"*#~^_=+%@";

pub type Chunks = BoxStream<'static, Result<Bytes, reqwest::Error>>;

/// The key an attempt was made with (none for a keyless provider), shared by the attempt's
/// request and the body going back; zeroed when the last of them lets go.
#[derive(Clone, Default)]
pub struct Scrub(Option<Arc<Secret>>);

struct Secret {
    value: Zeroizing<String>,
    /// A byte the key lacks: a mask of it cannot, joined with what is around it, spell the
    /// key again (a key with `*` in it would, under a mask of stars).
    mask: u8,
}

impl Scrub {
    pub fn new(value: Zeroizing<String>) -> Scrub {
        let bytes = value.as_bytes();
        // A key sent in a header has no DEL (0x7f), the last resort.
        let mask = MASKS
            .iter()
            .copied()
            .chain(0x21..=0x7f)
            .find(|b| !bytes.contains(b))
            .unwrap_or(b'*');
        Scrub(Some(Arc::new(Secret { value, mask })))
    }

    /// The key, for the request's header.
    pub fn key(&self) -> Option<&str> {
        self.0.as_ref().map(|s| s.value.as_str())
    }

    /// What a connection error says in the log and to the client. reqwest's own message names
    /// the URL, whose query may carry a key (`?key=…`) and whose user info a password: the log
    /// names the URL without them, the client hears only the root cause (refused, reset, DNS),
    /// and neither text keeps the query, password or key should a cause quote them.
    pub fn described(&self, error: reqwest::Error) -> (String, String) {
        let url = error.url().cloned();
        let error = error.without_url();
        let mut cause: &dyn std::error::Error = &error;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let (mut logged, mut told) = (format!("{error}: {cause}"), cause.to_string());
        if let Some(mut url) = url {
            let secrets = [
                url.query().map(str::to_owned),
                url.password().map(str::to_owned),
            ];
            for secret in secrets.into_iter().flatten().filter(|s| !s.is_empty()) {
                logged = logged.replace(&secret, "…");
                told = told.replace(&secret, "…");
            }
            url.set_query(None);
            url.set_fragment(None);
            let _ = url.set_password(None);
            let _ = url.set_username("");
            logged = format!("at {url}: {logged}");
        }
        (self.text(logged), self.text(told))
    }

    /// The key to mask, if there is one: an empty one (an `env.NAME` set to nothing) is sent
    /// as it is, but there is nothing of it to mask.
    fn masking(&self) -> Option<&Arc<Secret>> {
        self.0.as_ref().filter(|s| !s.value.is_empty())
    }

    /// `text` with every occurrence of the key masked.
    fn text(&self, text: String) -> String {
        match self.masking() {
            Some(secret) if memmem::find(text.as_bytes(), secret.key()).is_some() => {
                // The key is valid UTF-8, so its occurrences start and end on characters.
                String::from_utf8_lossy(&secret.masked(text.as_bytes())).into_owned()
            }
            _ => text,
        }
    }

    /// Masks the key in each header value.
    pub fn headers(&self, headers: &mut [(String, Vec<u8>)]) {
        let Some(secret) = self.masking() else { return };
        for (_, value) in headers {
            if memmem::find(value, secret.key()).is_some() {
                *value = secret.masked(value);
            }
        }
    }

    /// `chunks` with every occurrence of the key masked, one cut across any number of reads
    /// included: the end of a read that could begin the key is held back until the next read
    /// shows whether it does, and passed on at the body's end. A read without the key, and
    /// without an end that could begin it, goes on as it came, uncopied.
    pub fn body(&self, chunks: Chunks) -> Chunks {
        let Some(secret) = self.masking().cloned() else {
            return chunks;
        };
        let state = (chunks, secret, BytesMut::new(), false);
        stream::unfold(state, |(mut chunks, secret, mut held, done)| async move {
            if done {
                return None;
            }
            loop {
                match chunks.next().await {
                    Some(Ok(chunk)) => {
                        let out = secret.pass(chunk, &mut held);
                        if !out.is_empty() {
                            return Some((Ok(out), (chunks, secret, held, false)));
                        }
                    }
                    // What was held is less than the key: the broken body goes without it.
                    Some(Err(e)) => return Some((Err(e), (chunks, secret, held, true))),
                    None if held.is_empty() => return None,
                    None => {
                        let rest = held.split().freeze();
                        return Some((Ok(rest), (chunks, secret, held, true)));
                    }
                }
            }
        })
        .boxed()
    }
}

impl Secret {
    fn key(&self) -> &[u8] {
        self.value.as_bytes()
    }

    /// `text` with every occurrence masked.
    fn masked(&self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let rest = self.mask_into(text, &mut out);
        out.extend_from_slice(&text[rest..]);
        out
    }

    /// Writes `text` up to the end of its last occurrence into `out`, each occurrence masked;
    /// answers where the rest begins.
    fn mask_into(&self, text: &[u8], out: &mut Vec<u8>) -> usize {
        let key = self.key();
        let mut from = 0;
        for at in memmem::find_iter(text, key) {
            out.extend_from_slice(&text[from..at]);
            out.extend(std::iter::repeat_n(self.mask, MASK_LEN));
            from = at + key.len();
        }
        from
    }

    /// How many bytes at the end of `text` begin the key without completing it: the longest
    /// such end, as the key's first byte finds it.
    fn beginning(&self, text: &[u8]) -> usize {
        let key = self.key();
        let start = text.len().saturating_sub(key.len() - 1);
        memchr::memchr_iter(key[0], &text[start..])
            .map(|at| &text[start + at..])
            .find(|end| key.starts_with(end))
            .map_or(0, <[u8]>::len)
    }

    /// One read on its way: what goes on now; `held` keeps what could begin the key.
    fn pass(&self, chunk: Bytes, held: &mut BytesMut) -> Bytes {
        if held.is_empty() && memmem::find(&chunk, self.key()).is_none() {
            let keep = chunk.len() - self.beginning(&chunk);
            held.extend_from_slice(&chunk[keep..]);
            return chunk.slice(..keep);
        }
        let mut joined = held.split();
        joined.extend_from_slice(&chunk);
        let mut out = Vec::with_capacity(joined.len());
        let rest = self.mask_into(&joined, &mut out);
        let keep = joined.len() - self.beginning(&joined[rest..]);
        out.extend_from_slice(&joined[rest..keep]);
        held.extend_from_slice(&joined[keep..]);
        out.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real connection error for a URL with a key in its query and a password: neither
    /// reaches the log line or the client's message; the URL's host and path do, in the log.
    #[tokio::test]
    async fn an_unreachable_url_is_told_without_its_query_or_password() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!("http://user:pa55word@127.0.0.1:{port}/v1/chat?key=sk-query-secret-1");
        let error = client.post(&url).send().await.unwrap_err();
        assert!(error.to_string().contains("sk-query-secret-1"), "{error}");
        let (logged, told) = Scrub::default().described(error);
        for text in [&logged, &told] {
            assert!(!text.contains("sk-query-secret"), "{text}");
            assert!(!text.contains("pa55word"), "{text}");
        }
        assert!(
            logged.starts_with(&format!("at http://127.0.0.1:{port}/v1/chat: ")),
            "{logged}"
        );
        assert!(!told.contains("127.0.0.1"), "{told}");
    }

    fn scrub(key: &str) -> Scrub {
        Scrub::new(Zeroizing::new(key.to_owned()))
    }

    /// What the client receives of a body read as `reads`.
    async fn passed(scrub: &Scrub, reads: &[&[u8]]) -> Vec<u8> {
        let chunks: Vec<Result<Bytes, reqwest::Error>> = reads
            .iter()
            .map(|r| Ok(Bytes::copy_from_slice(r)))
            .collect();
        let out: Vec<Bytes> = scrub
            .body(stream::iter(chunks).boxed())
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert!(out.iter().all(|b| !b.is_empty()), "no empty reads");
        out.concat()
    }

    #[tokio::test]
    async fn every_occurrence_is_masked_however_the_body_is_cut_into_reads() {
        let key = "sk-ab";
        let text = b"sk-sk-ab|sk-absk-ab s sk-a sk-ab";
        let want = b"sk-********|**************** s sk-a ********";
        let scrub = scrub(key);
        assert_eq!(passed(&scrub, &[text]).await, want);
        for i in 0..=text.len() {
            for j in i..=text.len() {
                let reads = [&text[..i], &text[i..j], &text[j..]];
                assert_eq!(passed(&scrub, &reads).await, want, "{reads:?}");
            }
        }
        let single: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(passed(&scrub, &single).await, want);
        // A body that ends inside the key passes on what it had of it.
        assert_eq!(passed(&scrub, &[b"x sk", b"-a"]).await, b"x sk-a");
    }

    #[tokio::test]
    async fn a_read_without_the_key_goes_on_uncopied_and_a_keyless_body_untouched() {
        let scrub = scrub("sk-0123456789");
        let mut held = BytesMut::new();
        let read = Bytes::from_static(b"data: {\"content\":\"hello\"}\n\n");
        let out = scrub.0.as_ref().unwrap().pass(read.clone(), &mut held);
        assert_eq!(out.as_ptr(), read.as_ptr());
        assert_eq!(out.len(), read.len());
        assert!(held.is_empty());
        // Its end that could begin the key is held; the rest still is not copied.
        let read = Bytes::from_static(b"say sk-01");
        let out = scrub.0.as_ref().unwrap().pass(read.clone(), &mut held);
        assert_eq!((out.as_ptr(), &out[..]), (read.as_ptr(), &b"say "[..]));
        assert_eq!(&held[..], b"sk-01");

        let none = Scrub::default();
        assert!(none.key().is_none());
        assert_eq!(passed(&none, &[b"sk-0123456789"]).await, b"sk-0123456789");
        let empty = Scrub::new(Zeroizing::new(String::new()));
        assert_eq!(empty.key(), Some(""), "sent as it is");
        assert_eq!(passed(&empty, &[b"ab"]).await, b"ab");
    }

    #[tokio::test]
    async fn a_one_byte_key_is_masked_and_a_mask_never_spells_the_key() {
        assert_eq!(
            passed(&scrub("q"), &[b"aqa", b"q"]).await,
            b"a********a********"
        );
        // Under stars, `b*` would be spelled again by the `b` before a masked `b*`.
        let scrub = scrub("b*");
        let out = passed(&scrub, &[b"bb*"]).await;
        assert_eq!(out, b"b########");
        assert!(!out.windows(2).any(|w| w == b"b*"));
    }

    #[test]
    fn header_values_and_the_gateways_words_are_masked() {
        let scrub = scrub("sk-live-1");
        let mut headers = vec![
            ("x-ratelimit-limit".to_owned(), b"10 for sk-live-1".to_vec()),
            ("retry-after".to_owned(), b"3".to_vec()),
        ];
        scrub.headers(&mut headers);
        assert_eq!(headers[0].1, b"10 for ********");
        assert_eq!(headers[1].1, b"3");
        assert_eq!(
            scrub.text("refused: sk-live-1 é".to_owned()),
            "refused: ******** é"
        );
    }
}
