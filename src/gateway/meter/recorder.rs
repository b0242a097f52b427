//! Usage events leave the data plane through a bounded channel into one writer task, which
//! makes them durable in batches (at most one every [`BATCH_EVERY`]). A call never waits on
//! the store: when the channel is full the event is counted as dropped, and a warning says
//! so at most once a minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

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
    dropped: AtomicU64,
    last_warned_ms: AtomicU64,
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
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stop = Arc::new(Notify::new());
        let recorder = Arc::new(Recorder {
            tx,
            dropped: AtomicU64::new(0),
            last_warned_ms: AtomicU64::new(0),
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
        if self.tx.try_send(event).is_err() {
            self.lost(1, "the usage writer is behind");
        }
    }

    /// Events that were never written: the channel was full, or their batch failed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn lost(&self, n: u64, why: &str) {
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
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
            if let Err(e) = store.append(batch).await
                && let Some(recorder) = recorder.upgrade()
            {
                recorder.lost(n, &format!("writing them failed: {e}"));
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
