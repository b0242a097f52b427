//! The server's Prometheus metrics (`GET /metrics`): one registry and its families, fed from
//! where things happen — the HTTP layer's middleware (`observe_http`), each usage event
//! (`usage`: attempts, tokens, a stream's time to first content), the store's group commit
//! (`store`), refusals before any attempt — and read at scrape time for what is a state, not
//! a count (the providers' breakers). Every observation is a counter increment or a histogram
//! bucket; label sets pass `cap` first, so no caller can grow the series without bound.

mod cap;
mod store;
mod usage;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub use usage::Attempts;

use cap::Cap;

/// What `route` is for a request no route pattern matched: its path is never a label.
pub const UNMATCHED_ROUTE: &str = "unmatched";

const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0,
];
const FIRST_CONTENT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const STORE_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
const GROUP_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// A breaker's state as the gauge's `state` label spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    HalfOpen,
    Open,
}

impl BreakerState {
    const ALL: [BreakerState; 3] = [
        BreakerState::Closed,
        BreakerState::HalfOpen,
        BreakerState::Open,
    ];

    fn label(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Open => "open",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    /// `metrics.public`: `/metrics` answers without a token.
    public: bool,
    cap: Cap,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    attempts: IntCounterVec,
    tokens: IntCounterVec,
    first_content: HistogramVec,
    refused: IntCounterVec,
    usage_dropped: IntCounter,
    store_write: HistogramVec,
    group_commit: HistogramVec,
    breaker: IntGaugeVec,
    /// One scrape at a time: the breaker gauges are rebuilt for each.
    scrape: std::sync::Mutex<()>,
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter family")
}

fn histogram(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("a valid histogram family")
}

impl Metrics {
    /// The families, registered; `max_series` bounds the label sets they may hold together.
    pub fn new(public: bool, max_series: usize) -> Metrics {
        let dropped_series = IntCounter::new(
            "modelgate_metrics_series_dropped_total",
            "Observations not recorded because their label set would pass metrics.max_series.",
        )
        .expect("a valid counter");
        let metrics = Metrics {
            registry: Registry::new(),
            public,
            cap: Cap::new(max_series, dropped_series.clone()),
            http_requests: counter(
                "modelgate_http_requests_total",
                "HTTP requests answered, by method, matched route pattern and status.",
                &["method", "route", "status"],
            ),
            http_duration: histogram(
                "modelgate_http_request_duration_seconds",
                "Time to an HTTP answer's head, by method and matched route pattern.",
                HTTP_BUCKETS,
                &["method", "route"],
            ),
            attempts: counter(
                "modelgate_upstream_attempts_total",
                "Upstream attempts of model calls, by provider, model and outcome.",
                &["provider", "model", "outcome"],
            ),
            tokens: counter(
                "modelgate_tokens_total",
                "Tokens the upstreams reported, by provider, model and direction.",
                &["provider", "model", "direction"],
            ),
            first_content: histogram(
                "modelgate_stream_first_content_seconds",
                "A streamed answer's time from its attempt's start to its first content.",
                FIRST_CONTENT_BUCKETS,
                &["provider", "model"],
            ),
            refused: counter(
                "modelgate_calls_refused_total",
                "Model calls refused before any upstream attempt, by error code.",
                &["code"],
            ),
            usage_dropped: IntCounter::new(
                "modelgate_usage_events_dropped_total",
                "Usage events never written: the writer's queue was full, or their batch failed.",
            )
            .expect("a valid counter"),
            store_write: histogram(
                "modelgate_store_write_seconds",
                "A store write's time until durable: a registry write's from its start, a usage batch's append.",
                STORE_BUCKETS,
                &["store"],
            ),
            group_commit: histogram(
                "modelgate_store_group_commit_size",
                "Writes one flush made durable together: a registry group commit, a usage batch.",
                GROUP_BUCKETS,
                &["store"],
            ),
            breaker: IntGaugeVec::new(
                Opts::new(
                    "modelgate_provider_breaker_state",
                    "1 for each provider's current circuit breaker state, 0 for the others.",
                ),
                &["provider", "state"],
            )
            .expect("a valid gauge family"),
            scrape: std::sync::Mutex::new(()),
        };
        let registry = &metrics.registry;
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(metrics.http_requests.clone()),
            Box::new(metrics.http_duration.clone()),
            Box::new(metrics.attempts.clone()),
            Box::new(metrics.tokens.clone()),
            Box::new(metrics.first_content.clone()),
            Box::new(metrics.refused.clone()),
            Box::new(metrics.usage_dropped.clone()),
            Box::new(metrics.store_write.clone()),
            Box::new(metrics.group_commit.clone()),
            Box::new(metrics.breaker.clone()),
            Box::new(dropped_series),
        ];
        for collector in collectors {
            registry
                .register(collector)
                .expect("each family is registered once");
        }
        metrics
    }

    pub fn public(&self) -> bool {
        self.public
    }

    /// One HTTP answer: `route` is the matched pattern (or [`UNMATCHED_ROUTE`]), never a path.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = known_method(method);
        let status = status_label(status);
        let labels = [method, route, status.as_str()];
        if self.cap.admit("http_requests", &labels) {
            self.http_requests.with_label_values(&labels).inc();
        }
        let labels = [method, route];
        if self.cap.admit("http_duration", &labels) {
            self.http_duration
                .with_label_values(&labels)
                .observe(seconds);
        }
    }

    /// A model call refused before any upstream attempt (it has no usage event).
    pub fn refused(&self, code: &str) {
        if self.cap.admit("refused", &[code]) {
            self.refused.with_label_values(&[code]).inc();
        }
    }

    /// The text exposition of every family; `breakers` are the providers' current states.
    pub fn render(&self, breakers: impl IntoIterator<Item = (String, BreakerState)>) -> String {
        let _one = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        // Rebuilt whole, so a deleted provider's gauges go with it. Bounded by the registry's
        // providers, not by callers, so the cap does not apply.
        self.breaker.reset();
        for (provider, state) in breakers {
            for each in BreakerState::ALL {
                self.breaker
                    .with_label_values(&[provider.as_str(), each.label()])
                    .set(i64::from(each == state));
            }
        }
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            log::error!("the metrics could not be encoded: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The methods HTTP names; any other a client makes up is `other`.
fn known_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

fn status_label(status: u16) -> String {
    status.to_string()
}

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_no_one_knows_is_not_a_label_of_its_own() {
        let metrics = Metrics::new(false, 100);
        metrics.observe_http("BREW", "/v1/chat/completions", 200, 0.01);
        metrics.observe_http("GET", "/providers", 200, 0.01);
        let text = metrics.render([]);
        assert!(text.contains("method=\"other\""), "{text}");
        assert!(!text.contains("BREW"), "{text}");
    }

    #[test]
    fn each_provider_has_one_breaker_state_set() {
        let metrics = Metrics::new(false, 100);
        let text = metrics.render([("box".to_owned(), BreakerState::Open)]);
        assert!(
            text.contains("modelgate_provider_breaker_state{provider=\"box\",state=\"open\"} 1"),
            "{text}"
        );
        assert!(text.contains("state=\"closed\"} 0"), "{text}");
        let text = metrics.render([]);
        assert!(
            !text.contains("provider=\"box\""),
            "gone with its provider: {text}"
        );
    }
}
