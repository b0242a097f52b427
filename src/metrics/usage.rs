//! The series fed by each attempt's usage event: attempts by outcome, tokens by direction, a
//! stream's time to first content. The `model` label is the model's id only where the
//! provider declares it (or a catalog provider listed it when its models were discovered); a
//! provider that declares none takes any string a caller sends, so there it is `other`.

use std::sync::Arc;
use std::time::Duration;

use super::Metrics;
use crate::domain::usage::UsageEvent;
use crate::gateway::meter::Observer;
use crate::gateway::meter::event::CLIENT_DISCONNECTED;
use crate::gateway::table::RoutingTable;

/// The `model` label of a model no provider declares.
pub const OTHER_MODEL: &str = "other";

/// The `store` label of the usage database.
const USAGE_STORE: &str = "usage";

/// Feeds `metrics` from the usage recorder, reading declared models from `table`.
pub struct Attempts {
    pub metrics: Arc<Metrics>,
    pub table: Arc<RoutingTable>,
}

impl Attempts {
    fn model<'e>(&self, event: &'e UsageEvent) -> &'e str {
        let snapshot = self.table.snapshot();
        let provider = event.provider.as_str();
        let declared = snapshot
            .declaring(&event.model)
            .any(|route| route.slug == provider)
            || snapshot
                .discovered_by(&event.model)
                .any(|(route, _)| route.slug == provider);
        if declared { &event.model } else { OTHER_MODEL }
    }
}

/// How an attempt went, in a word from a fixed set.
fn outcome(event: &UsageEvent) -> &'static str {
    match event.status_code {
        _ if event.stop_reason == CLIENT_DISCONNECTED => "client_disconnected",
        _ if event.timed_out => "timeout",
        0 => "no_answer",
        500.. => "status_5xx",
        400.. => "status_4xx",
        // It answered, and its body broke or carried an error.
        _ if event.is_error => "broken",
        _ => "ok",
    }
}

impl Observer for Attempts {
    fn recorded(&self, event: &UsageEvent) {
        let metrics = &self.metrics;
        let provider = event.provider.as_str();
        let model = self.model(event);
        let labels = [provider, model, outcome(event)];
        if metrics.cap.admit("attempts", &labels) {
            metrics.attempts.with_label_values(&labels).inc();
        }
        let tokens = &event.tokens;
        if tokens.known {
            for (direction, n) in [
                ("input", tokens.input),
                ("output", tokens.output),
                ("cache_read", tokens.cache_read),
                ("cache_write", tokens.cache_write),
            ] {
                let labels = [provider, model, direction];
                if n > 0 && metrics.cap.admit("tokens", &labels) {
                    metrics.tokens.with_label_values(&labels).inc_by(n);
                }
            }
        }
        // A stream's answer is committed at its first content, so its time to the answer is
        // its time to first content.
        if event.is_streaming
            && let Some(ms) = event.ttfb_ms
            && (200..300).contains(&event.status_code)
        {
            let labels = [provider, model];
            if metrics.cap.admit("first_content", &labels) {
                metrics
                    .first_content
                    .with_label_values(&labels)
                    .observe(ms as f64 / 1000.0);
            }
        }
    }

    fn dropped(&self, n: u64) {
        self.metrics.usage_dropped.inc_by(n);
    }

    /// The usage database writes a batch in one transaction and flush: its time is a write's,
    /// its size a group commit's.
    fn batch_written(&self, events: usize, took: Duration) {
        let store = [USAGE_STORE];
        self.metrics
            .store_write
            .with_label_values(&store)
            .observe(took.as_secs_f64());
        self.metrics
            .group_commit
            .with_label_values(&store)
            .observe(events as f64);
    }
}
