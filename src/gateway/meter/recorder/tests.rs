use std::sync::Mutex;

use ulid::Ulid;

use super::*;
use crate::domain::usage::{Group, KeySource, Tokens};
use crate::store::usage::{DaySeries, EventQuery};
use crate::store::{Page, Pending, StoreError};

/// A store that keeps batches in memory; `gate` (when set) holds every append until a permit
/// is added, and `fail` refuses them.
#[derive(Default)]
struct Batches {
    batches: Mutex<Vec<Vec<UsageEvent>>>,
    gate: Option<Arc<tokio::sync::Semaphore>>,
    fail: bool,
}

impl UsageStore for Batches {
    fn append(&self, events: Vec<UsageEvent>) -> Pending<()> {
        let gate = self.gate.clone();
        let fail = self.fail;
        let kept = if fail {
            None
        } else {
            self.batches.lock().unwrap().push(events);
            Some(())
        };
        Box::pin(async move {
            if let Some(gate) = gate {
                gate.acquire().await.unwrap().forget();
            }
            kept.ok_or(StoreError::ReadOnly)
        })
    }
    fn events(&self, _: &EventQuery) -> Result<Page<UsageEvent>, StoreError> {
        unimplemented!()
    }
    fn days(&self, _: Group, _: u32, _: u32) -> Result<DaySeries, StoreError> {
        unimplemented!()
    }
    fn prune_before(&self, _: u64) -> Pending<u64> {
        unimplemented!()
    }
    fn oldest_ms(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

fn event(n: u32) -> UsageEvent {
    UsageEvent {
        id: Ulid::new(),
        request_id: format!("r{n}"),
        access_key_id: "admin".into(),
        provider: "p".into(),
        provider_name: "P".into(),
        model: "m".into(),
        attempt_number: n,
        is_final_attempt: true,
        status_code: 200,
        timed_out: false,
        is_error: false,
        is_streaming: false,
        stop_reason: String::new(),
        tokens: Tokens::default(),
        cost_nanos: None,
        key: KeySource::None,
        latency_ms: 0,
        ttfb_ms: None,
        raw: None,
    }
}

fn written(store: &Batches) -> Vec<u32> {
    let batches = store.batches.lock().unwrap();
    batches.iter().flatten().map(|e| e.attempt_number).collect()
}

#[tokio::test(start_paused = true)]
async fn every_event_recorded_is_written_by_the_time_the_writer_finishes() {
    let store = Arc::new(Batches::default());
    let (recorder, writer) = Recorder::start(store.clone(), 64);
    for n in 0..10 {
        recorder.record(event(n));
    }
    writer.finish().await;
    assert_eq!(written(&store), (0..10).collect::<Vec<_>>());
    assert_eq!(recorder.dropped(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_full_channel_drops_and_counts_instead_of_waiting() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let store = Arc::new(Batches {
        gate: Some(Arc::clone(&gate)),
        ..Batches::default()
    });
    let (recorder, writer) = Recorder::start(store.clone(), 2);
    recorder.record(event(0));
    // The writer takes the first event and is held in its append.
    while store.batches.lock().unwrap().is_empty() {
        tokio::task::yield_now().await;
    }
    for n in 1..=5 {
        recorder.record(event(n));
    }
    assert_eq!(
        recorder.dropped(),
        3,
        "two fit in the channel, three do not"
    );
    gate.add_permits(100);
    writer.finish().await;
    assert_eq!(written(&store), [0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_batch_counts_its_events_as_dropped() {
    let store = Arc::new(Batches {
        fail: true,
        ..Batches::default()
    });
    let (recorder, writer) = Recorder::start(store.clone(), 16);
    for n in 0..4 {
        recorder.record(event(n));
    }
    writer.finish().await;
    assert_eq!(recorder.dropped(), 4);
}

/// Counts what it is told.
#[derive(Default)]
struct Told {
    recorded: Mutex<Vec<u32>>,
    dropped: AtomicU64,
    batches: Mutex<Vec<usize>>,
}

impl Observer for Told {
    fn recorded(&self, event: &UsageEvent) {
        self.recorded.lock().unwrap().push(event.attempt_number);
    }
    fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }
    fn batch_written(&self, events: usize, _: Duration) {
        self.batches.lock().unwrap().push(events);
    }
}

#[tokio::test(start_paused = true)]
async fn the_observer_hears_every_event_even_those_the_queue_drops() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let store = Arc::new(Batches {
        gate: Some(Arc::clone(&gate)),
        ..Batches::default()
    });
    let (recorder, writer) = Recorder::start(store.clone(), 1);
    let told = Arc::new(Told::default());
    recorder.observe_with(told.clone());
    recorder.record(event(0));
    while store.batches.lock().unwrap().is_empty() {
        tokio::task::yield_now().await;
    }
    for n in 1..=3 {
        recorder.record(event(n));
    }
    assert_eq!(*told.recorded.lock().unwrap(), [0, 1, 2, 3]);
    assert_eq!(told.dropped.load(Ordering::Relaxed), 2);
    assert_eq!(recorder.dropped(), 2);
    gate.add_permits(100);
    writer.finish().await;
    let batches = told.batches.lock().unwrap().clone();
    assert_eq!(
        batches.iter().sum::<usize>(),
        2,
        "the two written: {batches:?}"
    );
}
