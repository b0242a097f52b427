//! Usage events leave the data plane through a bounded channel into one writer task, which
//! makes them durable in batches (at most one every [`BATCH_EVERY`]). A call never waits on
//! the store: when the channel is full the event is counted as dropped, and a warning says
//! so at most once a minute. Each event is counted for the access keys' limits (`spend`)
//! before it is queued, so the next call's check sees it whether or not it is written yet.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Observer;
use super::spend::Spend;
use crate::domain::now_ms;
use crate::domain::usage::UsageEvent;
use crate::store::usage::UsageStore;

/// The shortest time between two durable batches.
pub const BATCH_EVERY: Duration = Duration::from_millis(100);
/// The most events one batch holds.
const MAX_BATCH: usize = 4096;
const WARN_EVERY_MS: u64 = 60_000;

pub struct Recorder {
    tx: mpsc::Sender<UsageEvent>,
    /// Where each event is counted for budgets and token limits; `None`: nowhere.
    spend: Option<Arc<Spend>>,
    /// `usage.enabled`: events are written; off, they are only counted in `spend`, so that
    /// budgets and token limits still hold.
    keep: AtomicBool,
    dropped: AtomicU64,
    last_warned_ms: AtomicU64,
    /// Told of every event and every drop (metrics).
    observer: OnceLock<Arc<dyn Observer>>,
}

/// The writer task, to be awaited at shutdown once the server takes no more calls.
pub struct Writer {
    task: JoinHandle<()>,
    stop: Arc<Notify>,
}

impl Recorder {
    /// A recorder with room for `capacity` events not yet written, and its writer, which
    /// runs on the current tokio runtime.
    pub fn start(store: Arc<dyn UsageStore>, capacity: usize) -> (Arc<Recorder>, Writer) {
        Recorder::start_counting(store, capacity, None)
    }

    /// [`Recorder::start`], counting each event in `spend` too.
    pub fn start_counting(
        store: Arc<dyn UsageStore>,
        capacity: usize,
        spend: Option<Arc<Spend>>,
    ) -> (Arc<Recorder>, Writer) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stop = Arc::new(Notify::new());
        let recorder = Arc::new(Recorder {
            tx,
            spend,
            keep: AtomicBool::new(true),
            dropped: AtomicU64::new(0),
            last_warned_ms: AtomicU64::new(0),
            observer: OnceLock::new(),
        });
        let task = tokio::spawn(write(
            store,
            rx,
            Arc::clone(&stop),
            Arc::downgrade(&recorder),
        ));
        (recorder, Writer { task, stop })
    }

    /// Hands `event` to the writer, or counts it as dropped when the writer is that far
    /// behind.
    pub fn record(&self, event: UsageEvent) {
        if let Some(spend) = &self.spend {
            spend.count(&event);
        }
        // Metrics count calls whether or not their events are written.
        if let Some(observer) = self.observer.get() {
            observer.recorded(&event);
        }
        if !self.keep.load(Ordering::Relaxed) {
            return;
        }
        if self.tx.try_send(event).is_err() {
            self.lost(1, "the usage writer is behind");
        }
    }

    /// Whether events are written (`usage.enabled`), or only counted for the keys' limits
    /// and metrics.
    pub fn keep_events(&self, keep: bool) {
        self.keep.store(keep, Ordering::Relaxed);
    }

    /// Tells `observer` of every event recorded and dropped from now on; set once, at start.
    pub fn observe_with(&self, observer: Arc<dyn Observer>) {
        if self.observer.set(observer).is_err() {
            log::warn!("the usage recorder already has an observer; a second is ignored");
        }
    }

    /// Events that were never written: the channel was full, or their batch failed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn lost(&self, n: u64, why: &str) {
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(observer) = self.observer.get() {
            observer.dropped(n);
        }
        let now = now_ms();
        let last = self.last_warned_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= WARN_EVERY_MS
            && self
                .last_warned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log::warn!("usage events dropped ({total} so far): {why}");
        }
    }
}

impl Writer {
    /// Writes what is queued and stops.
    pub async fn finish(self) {
        self.stop.notify_one();
        if let Err(e) = self.task.await {
            log::error!("the usage writer ended abnormally: {e}");
        }
    }
}

async fn write(
    store: Arc<dyn UsageStore>,
    mut rx: mpsc::Receiver<UsageEvent>,
    stop: Arc<Notify>,
    // Weak: the writer must not keep the recorder alive past the gateway.
    recorder: std::sync::Weak<Recorder>,
) {
    let mut stopping = false;
    loop {
        let started = Instant::now();
        let mut batch = Vec::new();
        if !stopping {
            tokio::select! {
                event = rx.recv() => match event {
                    Some(event) => batch.push(event),
                    None => stopping = true,
                },
                () = stop.notified() => stopping = true,
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let n = batch.len() as u64;
            let appending = Instant::now();
            let appended = store.append(batch).await;
            if let Some(recorder) = recorder.upgrade() {
                match appended {
                    Err(e) => recorder.lost(n, &format!("writing them failed: {e}")),
                    Ok(()) => {
                        if let Some(observer) = recorder.observer.get() {
                            observer.batch_written(n as usize, appending.elapsed());
                        }
                    }
                }
            }
        }
        if stopping {
            if rx.is_empty() {
                return;
            }
            continue;
        }
        tokio::time::sleep_until(started + BATCH_EVERY).await;
    }
}

#[cfg(test)]
mod tests;
