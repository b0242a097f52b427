//! A write's result held back until the write is on disk.

use tokio::sync::oneshot;

use super::{SharedCause, StoreError};

/// What a group flush reports to each write it covered.
pub type FlushResult = Result<(), SharedCause>;

/// A write's result, to be released only once the write is on disk. Awaiting costs no thread:
/// concurrent writers share one flush (group commit) and are woken when it returns.
#[must_use = "a write is not durable until waited for"]
pub struct Durable<T> {
    value: T,
    flush: Option<oneshot::Receiver<FlushResult>>,
}

impl<T> Durable<T> {
    /// Already durable (nothing was written) or to become so with `flush`.
    pub fn new(value: T, flush: Option<oneshot::Receiver<FlushResult>>) -> Self {
        Durable { value, flush }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Durable<U> {
        Durable {
            value: f(self.value),
            flush: self.flush,
        }
    }

    pub async fn wait(self) -> Result<T, StoreError> {
        if let Some(flush) = self.flush {
            settled(flush.await)?;
        }
        Ok(self.value)
    }

    /// For callers outside an async runtime (command-line tools, tests).
    pub fn wait_blocking(self) -> Result<T, StoreError> {
        if let Some(flush) = self.flush {
            settled(flush.blocking_recv())?;
        }
        Ok(self.value)
    }
}

fn settled(flushed: Result<FlushResult, oneshot::error::RecvError>) -> Result<(), StoreError> {
    match flushed {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StoreError::Flush(e)),
        Err(_) => Err(StoreError::FlusherStopped),
    }
}
