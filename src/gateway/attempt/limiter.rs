//! A provider's `concurrency` and `bufferSize`: at most `concurrency` calls in flight, up to
//! `bufferSize − concurrency` more waiting their turn in arrival order, and anything beyond
//! refused at once — a caller told "busy" now can go elsewhere; one left waiting for a
//! timeout cannot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub struct Limiter {
    slots: Arc<Semaphore>,
    waiting: AtomicU32,
    pub concurrency: u32,
    pub queue: u32,
}

/// The buffer is full.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy;

/// A place in flight: released when dropped (with the answer's body, for a streamed one).
pub type Slot = OwnedSemaphorePermit;

impl Limiter {
    pub fn new(concurrency: u32, queue: u32) -> Limiter {
        Limiter {
            slots: Arc::new(Semaphore::new(concurrency as usize)),
            waiting: AtomicU32::new(0),
            concurrency,
            queue,
        }
    }

    /// A slot now, or after the calls ahead (tokio's semaphore is fair), or `Busy` at once
    /// when the queue is full. The caller bounds the wait with its own deadline.
    pub async fn enter(&self) -> Result<Slot, Busy> {
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(slot);
        }
        let queued = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.queue).then_some(n + 1)
            });
        if queued.is_err() {
            return Err(Busy);
        }
        // Leaves the queue however the wait ends, a caller's timeout included.
        struct Queued<'a>(&'a AtomicU32);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _queued = Queued(&self.waiting);
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| Busy)
    }

    /// Calls in flight and waiting, for tests and the health view.
    pub fn load(&self) -> (u32, u32) {
        let free = self.slots.available_permits() as u32;
        (
            self.concurrency - free.min(self.concurrency),
            self.waiting.load(Ordering::Acquire),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn calls_beyond_the_buffer_are_refused_at_once_and_the_queue_is_served_in_order() {
        let l = Arc::new(Limiter::new(1, 1));
        let first = l.enter().await.unwrap();
        let waiting = tokio::spawn({
            let l = Arc::clone(&l);
            async move { l.enter().await.map(drop) }
        });
        while l.load().1 == 0 {
            tokio::task::yield_now().await;
        }
        // The buffer (1 in flight + 1 waiting) is full: refused without waiting.
        assert!(matches!(l.enter().now_or_never(), Some(Err(Busy))));
        assert_eq!(l.load(), (1, 1));
        drop(first);
        waiting.await.unwrap().unwrap();
        assert_eq!(l.load(), (0, 0));
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_leaves_the_queue() {
        let l = Limiter::new(1, 1);
        let _held = l.enter().await.unwrap();
        {
            let wait = l.enter();
            futures_util::pin_mut!(wait);
            assert!(futures_util::poll!(wait.as_mut()).is_pending());
            assert_eq!(l.load().1, 1);
        }
        assert_eq!(l.load().1, 0);
        let again = l.enter();
        futures_util::pin_mut!(again);
        assert!(futures_util::poll!(again.as_mut()).is_pending());
    }
}
