//! Group commit: one thread flushes for every write that registered since its last flush.
//! A writer registers after its transaction applied, and the flusher takes the whole batch
//! before calling `flush()`, so that flush covers every write in the batch. Waiters are
//! callbacks, so an async writer holds no thread while it waits.
//!
//! `Db::flush_async` is deliberately not used: concurrent calls deadlock in sled 0.34
//! (spacejam/sled#1308).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::store::{FlushResult, StoreError, WriteObserver};

pub(super) struct GroupCommit {
    shared: Arc<Shared>,
    flusher: Option<std::thread::JoinHandle<()>>,
}

type Waiter = Box<dyn FnOnce(FlushResult) + Send>;

struct Shared {
    state: Mutex<Pending>,
    wake: Condvar,
    /// Set by the first failed flush or write: sled 0.34 never recovers from one in-process.
    failed: AtomicBool,
    /// Told each flush's group size (metrics).
    observer: OnceLock<Arc<dyn WriteObserver>>,
}

#[derive(Default)]
struct Pending {
    waiters: Vec<Waiter>,
    stop: bool,
}

impl GroupCommit {
    pub(super) fn new(db: sled::Db) -> GroupCommit {
        let shared = Arc::new(Shared {
            state: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            failed: AtomicBool::new(false),
            observer: OnceLock::new(),
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("modelgate-flush".into())
                .spawn(move || flush_loop(&db, &shared))
                .expect("spawning the flush thread")
        };
        GroupCommit {
            shared,
            flusher: Some(flusher),
        }
    }

    /// Whether a write or flush met an I/O error.
    pub(super) fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    pub(super) fn mark_failed(&self) {
        self.shared.failed.store(true, Ordering::Release);
    }

    /// Tells `observer` how many waiters each flush serves from now on.
    pub(super) fn observe(&self, observer: Arc<dyn WriteObserver>) {
        let _ = self.shared.observer.set(observer);
    }

    fn register(&self, waiter: Waiter) {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.waiters.push(waiter);
        drop(state);
        self.shared.wake.notify_one();
    }

    /// Resolves once a flush that began after this call returned.
    pub(super) fn after_write(&self) -> tokio::sync::oneshot::Receiver<FlushResult> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.register(Box::new(move |result| {
            let _ = tx.send(result);
        }));
        rx
    }

    /// Blocks until everything written so far is durable.
    pub(super) fn sync(&self) -> Result<(), StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.register(Box::new(move |result| {
            let _ = tx.send(result);
        }));
        rx.recv()
            .map_err(|_| StoreError::FlusherStopped)?
            .map_err(StoreError::Flush)
    }
}

fn flush_loop(db: &sled::Db, shared: &Shared) {
    loop {
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.waiters.is_empty() && !state.stop {
            state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.waiters.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut state.waiters);
        drop(state);
        let result = db
            .flush()
            .map(drop)
            .map_err(|e| -> crate::store::SharedCause { std::sync::Arc::new(e) });
        match &result {
            Err(e) => {
                log::error!("flush failed; the store takes no writes until it is reopened: {e}");
                shared.failed.store(true, Ordering::Release);
            }
            Ok(()) => {
                if let Some(observer) = shared.observer.get() {
                    observer.group_committed(batch.len());
                }
            }
        }
        for waiter in batch {
            waiter(result.clone());
        }
    }
}

impl Drop for GroupCommit {
    /// Flushes what is pending, then lets the thread (and its handle on the database) go, so the
    /// data dir can be opened again in the same process.
    fn drop(&mut self) {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.stop = true;
        drop(state);
        self.shared.wake.notify_one();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}
