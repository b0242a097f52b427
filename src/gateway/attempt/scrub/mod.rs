//! The secrets an attempt was made with — the provider key and the values of the credential
//! headers it sent (`api-key`, `*-token`, …) — kept out of everything passed back: an upstream
//! may echo one in an error's message or a header (OpenAI's "Incorrect API key provided"), and
//! a client must never learn it from the gateway. Every whole occurrence of a secret's bytes —
//! in the headers that go back, in the body however it is cut into reads, in the gateway's own
//! words about the attempt — becomes `********` (`mask`). A secret of any length is scrubbed:
//! a short one is still a secret. A part of one on its own is passed on as it came.

mod mask;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use futures_util::stream::{self, BoxStream, StreamExt};
use zeroize::Zeroizing;

use bytes::Bytes;
use mask::{Held, Secrets};
use reqwest::header::{HeaderName, HeaderValue};

pub type Chunks = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// The secrets an attempt was made with (none for a keyless provider without credential
/// headers), shared by the attempt's request and the body going back; zeroed when the last of
/// them lets go.
#[derive(Clone, Default)]
pub struct Scrub(Option<Arc<Secrets>>);

impl Scrub {
    /// `key`: the provider key; `headers`: the credential headers' values opened for the
    /// attempt.
    pub fn new(key: Option<Zeroizing<String>>, headers: Vec<Zeroizing<String>>) -> Scrub {
        if key.is_none() && headers.is_empty() {
            return Scrub(None);
        }
        Scrub(Some(Arc::new(Secrets::new(key, headers))))
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

    /// The secrets to mask, if there is something of one.
    fn masking(&self) -> Option<&Arc<Secrets>> {
        self.0.as_ref().filter(|s| s.any())
    }

    /// `text` with every occurrence of a secret masked.
    pub fn text(&self, text: String) -> String {
        match self.masking() {
            Some(secrets) if secrets.found_in(text.as_bytes()) => {
                // The secrets are valid UTF-8, so their runs start and end on characters.
                String::from_utf8_lossy(&secrets.masked(text.as_bytes())).into_owned()
            }
            _ => text,
        }
    }

    /// `body` with every occurrence of a secret masked.
    pub fn bytes(&self, body: Vec<u8>) -> Vec<u8> {
        match self.masking() {
            Some(secrets) if secrets.found_in(&body) => secrets.masked(&body),
            _ => body,
        }
    }

    /// Masks the secrets in each header value.
    pub fn headers(&self, headers: &mut [(HeaderName, HeaderValue)]) {
        let Some(secrets) = self.masking() else {
            return;
        };
        for (_, value) in headers {
            if secrets.found_in(value.as_bytes()) {
                // Masking puts only `*` where visible bytes were: still a valid value.
                *value = HeaderValue::from_bytes(&secrets.masked(value.as_bytes()))
                    .unwrap_or_else(|_| HeaderValue::from_static("********"));
            }
        }
    }

    /// `chunks` with every occurrence of a secret masked, one cut across any number of reads
    /// included: the end of a read that could begin a secret is held back until the next read
    /// shows whether it does, and passed on at the body's end. A read without a secret, and
    /// without an end that could begin one, goes on as it came, uncopied.
    pub fn body(&self, chunks: Chunks) -> Chunks {
        let Some(secrets) = self.masking().cloned() else {
            return chunks;
        };
        let state = (chunks, secrets, Held::default(), false);
        stream::unfold(state, |(mut chunks, secrets, mut held, done)| async move {
            if done {
                return None;
            }
            loop {
                let (out, done) = match chunks.next().await {
                    Some(Ok(chunk)) => (Ok(secrets.pass(chunk, &mut held)), false),
                    // What was held is less than a secret: the broken body goes without it.
                    Some(Err(e)) => return Some((Err(e), (chunks, secrets, held, true))),
                    None => (Ok(secrets.rest(&mut held)), true),
                };
                match out {
                    Ok(out) if out.is_empty() && !done => continue,
                    Ok(out) if out.is_empty() => return None,
                    out => return Some((out, (chunks, secrets, held, done))),
                }
            }
        })
        .boxed()
    }
}
