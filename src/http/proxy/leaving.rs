//! A caller that leaves before its answer is done: the server drops the call (see
//! `h1_allow_half_closed` in startup), which cancels the upstream request; this notes it, once,
//! with the call's request id, so an operator sees `client_disconnected` where the answer
//! stopped.

use std::time::Instant;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};

pub struct Leaving {
    id: String,
    path: String,
    started: Instant,
    done: bool,
}

impl Leaving {
    pub fn new(id: &str, path: &str, started: Instant) -> Leaving {
        Leaving {
            id: id.to_owned(),
            path: super::super::truncated(path, 200),
            started,
            done: false,
        }
    }

    /// The call ended as it meant to: nothing to note.
    pub fn finish(mut self) {
        self.done = true;
    }

    /// `body`, noting the caller's leaving if it is dropped before its end.
    pub fn until_end(
        self,
        body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    ) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
        let end = stream::once(async move { self.finish() })
            .filter_map(|()| async { None::<Result<Bytes, std::io::Error>> });
        body.chain(end).boxed()
    }
}

impl Drop for Leaving {
    fn drop(&mut self) {
        if !self.done {
            log::info!(
                target: "modelgate::proxy",
                request_id = self.id.as_str();
                "{} {} client_disconnected after {:.1}ms: the caller left; its upstream call \
                 was cancelled",
                self.id,
                self.path,
                self.started.elapsed().as_secs_f64() * 1000.0,
            );
        }
    }
}
