//! How an upstream's answer is framed on the wire to the caller. actix frames a streamed body
//! chunked whatever the status and whatever the request's version, which is wrong twice: a 204
//! or 304 announces no body, and the chunked terminator actix writes after its head is taken for
//! the start of the next answer (Node's parser, the JS SDKs', fails on it); and an HTTP/1.0
//! client cannot read chunked at all (RFC 9112 §6.1). So a 204 or 304 goes with its head only,
//! and an HTTP/1.0 caller gets `Content-Length` — the body buffered up to
//! [`HTTP10_BUFFERED_BYTES`] — or, for a stream or a larger body, a body that ends where the
//! connection does (RFC 9112 §6.3), never held back.

use actix_web::http::Version;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt};

use super::leaving::Leaving;
use crate::domain::surface::Format;
use crate::gateway::error::{Code, GatewayError};
use crate::gateway::{Answer, Chosen};

/// How much of a whole (not streamed) answer is held for an HTTP/1.0 caller to give it a
/// `Content-Length`: past this the rest follows as it comes, delimited by the connection's close,
/// so that one caller on an old client cannot pin more memory than this.
pub const HTTP10_BUFFERED_BYTES: usize = 4 << 20;

type Body = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// `answer`'s body under `response`'s head, framed as the caller's version and the status
/// allow.
pub(super) async fn respond(
    req: &HttpRequest,
    mut response: HttpResponseBuilder,
    answer: Answer,
    leaving: Leaving,
    format: Format,
    id: &str,
) -> HttpResponse {
    if matches!(answer.status, 204 | 304) {
        // Whatever the upstream sent after such a head (it should send nothing) is dropped.
        leaving.finish();
        return response.finish();
    }
    if req.version() != Version::HTTP_10 {
        return response.streaming(leaving.until_end(answer.body));
    }
    if answer.streamed {
        // A stream is never held back: its events go as they come, to the connection's close.
        return close_delimited(response, leaving.until_end(answer.body));
    }
    match held(answer.body).await {
        Held::Whole(body) => {
            leaving.finish();
            response.body(body)
        }
        Held::Over(held, rest) => {
            let body = stream::once(async { Ok(held) }).chain(rest).boxed();
            close_delimited(response, leaving.until_end(body))
        }
        Held::Broken(e) => {
            leaving.finish();
            broken(format, &e, id, &answer.chosen)
        }
    }
}

/// A body without chunking and without a length: it ends with the connection, which closes
/// after it even when the caller asked to keep it.
fn close_delimited(mut response: HttpResponseBuilder, body: Body) -> HttpResponse {
    response.force_close();
    let mut response = response.streaming(body);
    response.head_mut().no_chunking(true);
    response
}

enum Held {
    /// The whole body, within the bound.
    Whole(Bytes),
    /// What was read when the bound was passed, and the rest.
    Over(Bytes, Body),
    /// The body broke or stalled before its end.
    Broken(std::io::Error),
}

async fn held(mut body: Body) -> Held {
    let mut held = BytesMut::new();
    loop {
        match body.next().await {
            None => return Held::Whole(held.freeze()),
            Some(Err(e)) => return Held::Broken(e),
            Some(Ok(chunk)) => {
                held.extend_from_slice(&chunk);
                if held.len() > HTTP10_BUFFERED_BYTES {
                    return Held::Over(held.freeze(), body);
                }
            }
        }
    }
}

/// An answer that broke while it was held: nothing has gone to the caller yet, so it is told
/// so in the route's format rather than handed a cut body it could not tell from a whole one.
fn broken(format: Format, e: &std::io::Error, id: &str, chosen: &Chosen) -> HttpResponse {
    let provider = chosen.provider.as_deref().unwrap_or("-");
    // The error's words are not passed on: a client error may name the upstream URL.
    let error = match e.kind() {
        std::io::ErrorKind::TimedOut => GatewayError::new(
            Code::UpstreamTimeout,
            format!("the answer of provider `{provider}` stalled before its end"),
        ),
        _ => GatewayError::new(
            Code::UpstreamUnreachable,
            format!("the answer of provider `{provider}` broke before its end"),
        ),
    };
    log::warn!(request_id = id; "{}; the HTTP/1.0 caller is told {}", error.message, error.code);
    super::refusal(format, &error, chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: Vec<Result<&'static [u8], std::io::Error>>) -> Body {
        stream::iter(chunks.into_iter().map(|c| c.map(Bytes::from_static))).boxed()
    }

    #[tokio::test]
    async fn a_body_is_held_whole_up_to_its_bound_and_no_further() {
        let Held::Whole(b) = held(body(vec![Ok(b"ab"), Ok(b"c")])).await else {
            panic!("a small body is held whole");
        };
        assert_eq!(&b[..], b"abc");
        let big: &'static [u8] = Box::leak(vec![b'x'; HTTP10_BUFFERED_BYTES].into_boxed_slice());
        let Held::Over(h, rest) = held(body(vec![Ok(big), Ok(b"y"), Ok(b"z")])).await else {
            panic!("a body past the bound is not held whole");
        };
        assert_eq!(h.len(), HTTP10_BUFFERED_BYTES + 1);
        let rest: Vec<_> = rest.map(Result::unwrap).collect().await;
        assert_eq!(rest, [Bytes::from_static(b"z")]);
        let cut = body(vec![Ok(b"a"), Err(std::io::Error::other("reset"))]);
        assert!(matches!(held(cut).await, Held::Broken(_)));
    }
}
