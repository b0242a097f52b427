//! A write's result held back until the write is on disk.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::{SharedCause, StoreError, WriteObserver};

/// What a group flush reports to each write it covered.
pub type FlushResult = Result<(), SharedCause>;

/// A write's result, to be released only once the write is on disk. Awaiting costs no thread:
/// concurrent writers share one flush (group commit) and are woken when it returns.
#[must_use = "a write is not durable until waited for"]
pub struct Durable<T> {
    value: T,
    flush: Option<oneshot::Receiver<FlushResult>>,
    /// When the write began, and who hears how long it took to be durable.
    timed: Option<(Instant, Arc<dyn WriteObserver>)>,
}

impl<T> Durable<T> {
    /// Already durable (nothing was written) or to become so with `flush`.
    pub fn new(value: T, flush: Option<oneshot::Receiver<FlushResult>>) -> Self {
        Durable {
            value,
            flush,
            timed: None,
        }
    }

    /// Tells `observer` how long the write took from `started` once it is durable; a write
    /// that wrote nothing is not timed.
    pub fn timed(mut self, started: Instant, observer: &Arc<dyn WriteObserver>) -> Self {
        if self.flush.is_some() {
            self.timed = Some((started, Arc::clone(observer)));
        }
        self
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Durable<U> {
        Durable {
            value: f(self.value),
            flush: self.flush,
            timed: self.timed,
        }
    }

    pub async fn wait(self) -> Result<T, StoreError> {
        if let Some(flush) = self.flush {
            settled(flush.await)?;
        }
        told(self.timed);
        Ok(self.value)
    }

    /// For callers outside an async runtime (command-line tools, tests).
    pub fn wait_blocking(self) -> Result<T, StoreError> {
        if let Some(flush) = self.flush {
            settled(flush.blocking_recv())?;
        }
        told(self.timed);
        Ok(self.value)
    }
}

fn told(timed: Option<(Instant, Arc<dyn WriteObserver>)>) {
    if let Some((started, observer)) = timed {
        observer.write_durable(started.elapsed());
    }
}

fn settled(flushed: Result<FlushResult, oneshot::error::RecvError>) -> Result<(), StoreError> {
    match flushed {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StoreError::Flush(e)),
        Err(_) => Err(StoreError::FlusherStopped),
    }
}
