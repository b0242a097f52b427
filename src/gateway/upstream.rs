//! Calling a provider: the one place the upstream HTTP client is built, where its URL is joined,
//! which headers go (the provider's credential in its format's header, never the caller's),
//! which come back, and how an answer's body is watched for timeouts as it streams through.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::time::Instant;

use super::error::{GatewayError, Kind};
use super::outbound::{Guarded, Resolve};
use super::wire;
use crate::domain::surface::Format;

/// The Anthropic API version sent when the caller names none.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

/// The upstream client, the one place one is built (one per worker thread, see `Gateway`):
/// connections are pooled and kept alive, HTTP/2 is used where the upstream offers it (ALPN),
/// and no socket waits on Nagle's algorithm. Redirects are not followed: a redirect would carry
/// the provider key to another host.
/// Every client resolves names through the outbound guard (`outbound`).
pub fn client(resolve: Resolve, allow_private: bool) -> Result<reqwest::Client, reqwest::Error> {
    builder(resolve, allow_private).build()
}

/// [`client`]'s settings, for a client that adds its own (`profile`).
pub fn builder(resolve: Resolve, allow_private: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("modelgate/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Guarded {
            resolve,
            allow_private,
        }))
}

/// The upstream URL of a surface: the base URL's path (`/v1` when it has none) joined with
/// the surface's, duplicate slashes collapsed, the base URL's query kept (Azure's
/// `api-version`). The caller's own query is never forwarded.
pub fn join(base_url: &str, surface_path: &str) -> Result<url::Url, GatewayError> {
    let mut url = url::Url::parse(base_url).map_err(|_| {
        GatewayError::new(
            Kind::Internal,
            "invalid_base_url",
            "the provider's base URL cannot be parsed",
        )
    })?;
    let base = url.path().trim_end_matches('/');
    let base = if base.is_empty() { "/v1" } else { base };
    let mut path = String::with_capacity(base.len() + surface_path.len());
    for c in base.chars().chain(surface_path.chars()) {
        if !(c == '/' && path.ends_with('/')) {
            path.push(c);
        }
    }
    url.set_path(&path);
    Ok(url)
}

/// A surface's URL when the provider mounts it at its own absolute `path`: the base URL's
/// scheme, host, port and query, and that path.
pub fn overridden(base_url: &str, path: &str) -> Result<url::Url, GatewayError> {
    let mut url = join(base_url, "/")?;
    url.set_path(path);
    Ok(url)
}

/// Caller headers a provider may need, by name as received.
#[derive(Debug, Default, Clone)]
pub struct Passed {
    pub anthropic_version: Option<String>,
    pub anthropic_beta: Option<String>,
    pub accept: Option<String>,
}

/// The upstream request's headers: content type, the caller's protocol headers that matter,
/// and the provider's credential in its format's header. Nothing else of the caller's goes:
/// not its credential, cookies or hop-by-hop headers.
pub fn headers(
    format: Format,
    key: Option<&str>,
    passed: &Passed,
) -> Result<reqwest::header::HeaderMap, GatewayError> {
    use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
    let value = |v: &str| {
        HeaderValue::from_str(v).map_err(|_| {
            GatewayError::new(
                Kind::NoUsableKey,
                "unusable_key",
                "a value for the upstream request is not a valid header value",
            )
        })
    };
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(accept) = &passed.accept {
        h.insert(ACCEPT, value(accept)?);
    }
    match format {
        Format::OpenAi => {
            if let Some(key) = key {
                let mut auth = value(&format!("Bearer {key}"))?;
                auth.set_sensitive(true);
                h.insert(AUTHORIZATION, auth);
            }
        }
        Format::Anthropic => {
            if let Some(key) = key {
                let mut auth = value(key)?;
                auth.set_sensitive(true);
                h.insert("x-api-key", auth);
            }
            let version = passed
                .anthropic_version
                .as_deref()
                .unwrap_or(DEFAULT_ANTHROPIC_VERSION);
            h.insert("anthropic-version", value(version)?);
            if let Some(beta) = &passed.anthropic_beta {
                h.insert("anthropic-beta", value(beta)?);
            }
        }
    }
    Ok(h)
}

/// Whether an upstream answer header goes back to the caller: its content type and what
/// tells a client when to retry.
pub fn returned(name: &str) -> bool {
    name == "content-type"
        || name == "retry-after"
        || name == "retry-after-ms"
        || name.starts_with("x-ratelimit-")
        || name.starts_with("anthropic-ratelimit-")
}

/// How long an answer may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To the answer's head, and for an answer that is not streamed, to its end.
    pub attempt: Duration,
    /// Between two chunks of a streamed answer.
    pub idle: Duration,
    /// For the whole call, over every attempt.
    pub total: Duration,
}

/// What ends a stream as its upstream meant it to end: OpenAI's `[DONE]`, the Responses API's
/// and Anthropic's last events, or an error the upstream sent itself.
const ENDINGS: [&[u8]; 6] = [
    b"[DONE]",
    b"message_stop",
    b"response.completed",
    b"response.incomplete",
    b"response.failed",
    b"\"error\":",
];

/// Whether a stream has shown one of its [`ENDINGS`], read chunk by chunk: the last bytes of
/// each chunk are kept, so an ending split across two chunks is found too.
#[derive(Default)]
struct Ending {
    seen: bool,
    tail: Vec<u8>,
}

impl Ending {
    const KEEP: usize = 24;

    fn scan(&mut self, chunk: &[u8]) {
        if self.seen {
            return;
        }
        self.tail
            .extend_from_slice(&chunk[..chunk.len().min(Self::KEEP)]);
        let found = |hay: &[u8]| {
            ENDINGS
                .iter()
                .any(|e| memchr::memmem::find(hay, e).is_some())
        };
        self.seen = found(&self.tail) || found(chunk);
        let from = chunk.len().saturating_sub(Self::KEEP);
        self.tail.clear();
        self.tail.extend_from_slice(&chunk[from..]);
    }
}

/// An upstream body passed through chunk by chunk, never buffered whole. A stream (SSE) that
/// breaks, goes quiet past `idle`, or stops before its ending ends with an error event in its
/// format's stream shape, never with a clean end that would look like success; any other body
/// that breaks, stalls past `idle` or outlives `deadline` is cut off, which the client sees as
/// an aborted answer.
pub fn watched(
    chunks: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    sse: Option<Format>,
    timeouts: Timeouts,
    deadline: Instant,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let state = (chunks, false, Ending::default());
    stream::unfold(state, move |(mut chunks, done, mut ending)| async move {
        if done {
            return None;
        }
        let limit = match sse {
            Some(_) => Instant::now() + timeouts.idle,
            None => deadline.min(Instant::now() + timeouts.idle),
        };
        match tokio::time::timeout_at(limit, chunks.next()).await {
            Ok(Some(Ok(bytes))) => {
                if sse.is_some() {
                    ending.scan(&bytes);
                }
                Some((Ok(bytes), (chunks, false, ending)))
            }
            Ok(Some(Err(e))) => match sse {
                Some(format) => {
                    log::warn!("an upstream stream broke: {e}");
                    let event = incomplete(format, "stream_broken", "broke");
                    Some((Ok(event), (chunks, true, ending)))
                }
                None => Some((Err(std::io::Error::other(e)), (chunks, true, ending))),
            },
            Ok(None) => match sse {
                Some(format) if !ending.seen => {
                    log::warn!("an upstream stream stopped before its end");
                    let event = incomplete(format, "stream_ended_early", "stopped before its end");
                    Some((Ok(event), (chunks, true, ending)))
                }
                _ => None,
            },
            Err(_) => match sse {
                Some(format) => {
                    let error = GatewayError::new(
                        Kind::Timeout,
                        "stream_idle_timeout",
                        format!(
                            "the upstream sent nothing for {} s; the stream was ended",
                            timeouts.idle.as_secs()
                        ),
                    );
                    Some((
                        Ok(wire::stream_error_event(format, &error)),
                        (chunks, true, ending),
                    ))
                }
                None => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the upstream answer stalled",
                    )),
                    (chunks, true, ending),
                )),
            },
        }
    })
    .boxed()
}

/// The error event that ends a stream the upstream did not finish.
fn incomplete(format: Format, code: &'static str, what: &str) -> Bytes {
    let error = GatewayError::new(
        Kind::Unreachable,
        code,
        format!("the upstream's stream {what}; the answer is incomplete"),
    );
    wire::stream_error_event(format, &error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_and_surface_paths_join_into_one_versioned_path() {
        let cases = [
            (
                "http://h:11434",
                "/chat/completions",
                "http://h:11434/v1/chat/completions",
            ),
            (
                "http://h:11434/",
                "/embeddings",
                "http://h:11434/v1/embeddings",
            ),
            (
                "http://h/v1",
                "/chat/completions",
                "http://h/v1/chat/completions",
            ),
            ("http://h/v1/", "/messages", "http://h/v1/messages"),
            (
                "https://api.anthropic.com/v1",
                "/messages/count_tokens",
                "https://api.anthropic.com/v1/messages/count_tokens",
            ),
            (
                "http://h//openai//v1//",
                "/responses",
                "http://h/openai/v1/responses",
            ),
            (
                "https://x.openai.azure.com/openai/deployments/gpt?api-version=2024-06-01",
                "/chat/completions",
                "https://x.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-06-01",
            ),
            (
                "http://[::1]:8000/api/v1",
                "/completions",
                "http://[::1]:8000/api/v1/completions",
            ),
        ];
        for (base, path, want) in cases {
            assert_eq!(join(base, path).unwrap().as_str(), want, "{base} + {path}");
        }
    }

    #[test]
    fn the_provider_key_goes_in_its_formats_header_and_nothing_of_the_callers() {
        let passed = Passed {
            anthropic_version: Some("2026-10-21".into()),
            anthropic_beta: Some("tools-2024".into()),
            accept: None,
        };
        let h = headers(Format::OpenAi, Some("sk-upstream"), &passed).unwrap();
        assert_eq!(h["authorization"], "Bearer sk-upstream");
        assert!(h.get("x-api-key").is_none() && h.get("anthropic-version").is_none());
        let h = headers(Format::Anthropic, Some("sk-ant"), &passed).unwrap();
        assert_eq!(h["x-api-key"], "sk-ant");
        assert!(h.get("authorization").is_none());
        assert_eq!(h["anthropic-version"], "2026-10-21");
        assert_eq!(h["anthropic-beta"], "tools-2024");
        let h = headers(Format::Anthropic, None, &Passed::default()).unwrap();
        assert_eq!(h["anthropic-version"], DEFAULT_ANTHROPIC_VERSION);
        assert!(h.get("x-api-key").is_none());
        assert!(headers(Format::OpenAi, Some("bad\nkey"), &passed).is_err());
    }

    #[test]
    fn a_streams_ending_is_found_even_split_across_chunks() {
        for chunks in [
            &[&b"data: {\"a\":1}\n\n"[..], b"data: [DONE]\n\n"][..],
            &[b"data: {\"a\":1}\n\ndata: [DO", b"NE]\n\n"],
            &[b"event: message_st", b"op\ndata: {}\n\n"],
            &[b"data: {\"type\":\"response.completed\"}\n\n"],
            &[b"data: {\"err", b"or\":{\"message\":\"x\"}}\n\n"],
        ] {
            let mut ending = Ending::default();
            chunks.iter().for_each(|c| ending.scan(c));
            assert!(ending.seen, "{chunks:?}");
        }
        let mut ending = Ending::default();
        ending.scan(b"data: {\"choices\":[{\"delta\":{\"content\":\"DONE\"}}]}\n\n");
        assert!(!ending.seen);
    }

    #[test]
    fn only_content_type_and_rate_limit_headers_come_back() {
        for name in [
            "content-type",
            "retry-after",
            "retry-after-ms",
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-tokens-reset",
        ] {
            assert!(returned(name), "{name}");
        }
        for name in [
            "set-cookie",
            "connection",
            "server",
            "www-authenticate",
            "content-length",
        ] {
            assert!(!returned(name), "{name}");
        }
    }
}
