//! A caller that leaves before its answer is done: the server drops the call (see
//! `h1_allow_half_closed` in startup), which cancels the upstream request; this notes it, once,
//! with the call's request id, so an operator sees `client_disconnected` where the answer
//! stopped.

use std::time::Instant;

use actix_web::http::Uri;
use bytes::Bytes;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::{BoxStream, Stream};
use ulid::Ulid;

/// What the note needs, kept as it came (the id's 16 bytes, the request target's shared
/// bytes): every call makes one of these and almost none is ever written out.
pub struct Leaving {
    id: Ulid,
    uri: Uri,
    started: Instant,
    done: bool,
}

impl Leaving {
    pub fn new(id: Ulid, uri: &Uri, started: Instant) -> Leaving {
        Leaving {
            id,
            uri: uri.clone(),
            started,
            done: false,
        }
    }

    /// The call ended as it meant to: nothing to note.
    pub fn finish(mut self) {
        self.done = true;
    }

    /// `body`, noting the caller's leaving if it is dropped before its end.
    pub fn until_end(self, body: Chunks) -> Chunks {
        Box::pin(Watched {
            body,
            leaving: self,
        })
    }
}

type Chunks = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// A body that knows whether it was read to its end. One small layer rather than a chain of
/// stream adapters, as every answer goes through it.
struct Watched {
    body: Chunks,
    leaving: Leaving,
}

impl Stream for Watched {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.body.as_mut().poll_next(cx);
        if let Poll::Ready(None) = next {
            self.leaving.done = true;
        }
        next
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.body.size_hint()
    }
}

impl Drop for Leaving {
    fn drop(&mut self) {
        if !self.done {
            let id = self.id.to_string();
            log::info!(
                target: "modelgate::proxy",
                request_id = id.as_str();
                "{} {} client_disconnected after {:.1}ms: the caller left; its upstream call \
                 was cancelled",
                id,
                super::super::truncated(self.uri.path(), 200),
                self.started.elapsed().as_secs_f64() * 1000.0,
            );
        }
    }
}
