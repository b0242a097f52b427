//! A model call, attempt after attempt. The candidates are laid out first (`plan`), then tried
//! in order, each attempt within what is left of the call's time, until one answers; what each
//! failure means for the rest is `policy`'s. A streamed answer counts as answered at its first
//! content (`attempt::commit`): a stream that breaks before then fails over like any other
//! attempt. Every line a call logs carries its request id and attempt number.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::StreamExt;
use tokio::time::Instant;

use super::attempt::{Missed, Told};
use super::error::{Attempt, Code, GatewayError};
use super::meter::event::{Draft, Ended, metered};
use super::meter::strip::without_usage_chunk;
use super::plan::body::CallBody;
use super::plan::{Candidate, Credential, Step};
use super::policy::breaker;
use super::policy::{self, Class, Failure};
use super::table::Snapshot;
use super::{Answer, Call, Chosen, Gateway};
use crate::domain::surface::Surface;
use crate::domain::usage::{KeySource, UsageEvent};

/// What a call's attempts came to so far.
#[derive(Default)]
struct Tried {
    failures: Vec<Failure>,
    attempts: Vec<Attempt>,
    /// Candidates tried (a candidate's retries are one).
    candidates: u32,
    out_of_time: bool,
    /// What the last failed attempt would have told the client, and at which provider: when
    /// every attempt failed the same way the client hears it, else its words end the message.
    last: Option<(String, Told)>,
    /// The usage events of the attempts that failed, recorded when the call ends (the last
    /// one is the final attempt unless another answers).
    events: Vec<UsageEvent>,
}

impl Tried {
    /// Records the failed attempts' events; `final_failed`: the last of them ended the call.
    fn record_events(&mut self, gateway: &Gateway, final_failed: bool) {
        let Some(recorder) = &gateway.recorder else {
            return;
        };
        if final_failed && let Some(last) = self.events.last_mut() {
            last.is_final_attempt = true;
        }
        for event in self.events.drain(..) {
            recorder.record(event);
        }
    }

    fn failed(&mut self, provider: Option<&str>, model: &str, failure: Failure) {
        self.attempts.push(policy::told(provider, model, &failure));
        self.failures.push(failure);
    }

    /// Keeps `told` as the last word, letting the previous one's connection go back to the
    /// pool.
    async fn keep(&mut self, provider: &str, told: Told) {
        if let Some((_, Told::Upstream(answer))) = self.last.replace((provider.to_owned(), told)) {
            drain(answer).await;
        }
    }

    /// What the client is told when no attempt answered.
    async fn outcome(self, mut last: Chosen) -> Result<Answer, (GatewayError, Chosen)> {
        last.attempts = self.attempts.len() as u32;
        last.fallbacks = self.candidates.saturating_sub(1);
        if !self.out_of_time && policy::same_failure(&self.failures) {
            match self.last {
                Some((_, Told::Upstream(mut answer))) => {
                    answer.chosen.attempts = last.attempts;
                    answer.chosen.fallbacks = last.fallbacks;
                    return Ok(answer);
                }
                Some((_, Told::Gateway(mut error))) => {
                    error.attempts = self.attempts;
                    return Err((error, last));
                }
                None => {}
            }
        }
        let mut error = policy::outcome(&self.failures, self.attempts, self.out_of_time);
        if let Some((provider, told)) = self.last {
            let words = match &told {
                Told::Upstream(answer) => {
                    format!("provider `{provider}` answered {}", answer.status)
                }
                Told::Gateway(e) => e.message.clone(),
            };
            if let Told::Upstream(answer) = told {
                drain(answer).await;
            }
            if error.code == Code::AllAttemptsFailed {
                error.message = format!("{}; the last: {words}", error.message);
            }
        }
        Err((error, last))
    }
}

impl Gateway {
    /// Routes and sends one call. The answer's head has arrived when this returns; its body
    /// follows as the upstream sends it.
    pub async fn call(&self, call: Call<'_>) -> Result<Answer, (GatewayError, Chosen)> {
        let nothing = |e| (e, Chosen::default());
        let mut body = CallBody::parse(call.body).map_err(nothing)?;
        let snapshot = self.table.snapshot();
        let config = snapshot.gateway_config();
        let deadline = Instant::now() + config.total_timeout.unwrap_or(self.timeouts.total);
        if let Some(most) = config.max_input_tokens {
            body.check_input_tokens(most).map_err(nothing)?;
        }
        if let Some(most) = config.max_output_tokens {
            body.cap_output(most, call.surface.output_cap_field());
        }
        // Counted without changing what the caller sees: the usage-only chunk asked for here
        // is taken out of the answer again (`meter::strip`).
        let strip_usage = self.recorder.is_some()
            && self.inject_stream_usage
            && matches!(
                call.surface,
                Surface::ChatCompletions | Surface::Completions
            )
            && body.ask_usage();
        let mut plan = self.plan(&snapshot, &body, &call).map_err(nothing)?;
        // A provider whose circuit is open goes after the others serving the same name (a
        // lone candidate, the usual call, has no one to go after).
        if plan.len() > 1 {
            let now = (self.clock)();
            plan.sort_by_key(|step| {
                let open = matches!(step, Step::Try(c)
                if c.target.route.state.breaker(now) == breaker::State::Open);
                (step.name(), open)
            });
        }
        if !call.fallback {
            plan.truncate(1);
        }
        let mut tried = Tried::default();
        let mut skipped_name = None;
        // Providers whose queue was full: their other keys would find it full too.
        let mut busy: Vec<&str> = Vec::new();
        let mut last = Chosen::default();
        for (i, step) in plan.iter().enumerate() {
            if skipped_name == Some(step.name())
                || matches!(step, Step::Try(c) if busy.contains(&c.target.route.slug.as_str()))
            {
                continue;
            }
            let candidate = match step {
                Step::Try(candidate) => candidate,
                Step::Unroutable { model, error, .. } => {
                    log::debug!(request_id = call.context.request_id.as_str();
                        "fallback model `{model}` is not routable: {error}");
                    tried.failed(None, model, Failure::NotCallable(error.code));
                    tried.candidates += 1;
                    continue;
                }
            };
            let route = &candidate.target.route;
            let fallbacks = tried.candidates;
            tried.candidates += 1;
            let mut retry = 0;
            let missed = loop {
                let now = Instant::now();
                if now >= deadline {
                    tried.out_of_time = true;
                    break None;
                }
                // The provider's own, then `/gateway-config`'s, then the config file's.
                let per_attempt = route
                    .calling
                    .request_timeout
                    .or(config.per_request_timeout)
                    .unwrap_or(self.timeouts.attempt);
                let budget = per_attempt.min(deadline - now);
                last = Chosen {
                    provider: Some(route.slug.clone()),
                    model: Some(candidate.target.model.clone()),
                    attempts: tried.attempts.len() as u32 + 1,
                    fallbacks,
                };
                let number = last.attempts;
                let draft = self.draft(&call, &snapshot, body.stream, candidate, number);
                let sent = self.attempt(&call, &body, candidate, budget, number).await;
                let missed = match sent {
                    Ok(mut answer) => {
                        route.state.record((self.clock)(), &route.slug, false);
                        route.state.passed(self.wall_ms());
                        answer.chosen.attempts = number;
                        answer.chosen.fallbacks = fallbacks;
                        tried.record_events(self, false);
                        // The meter reads the upstream's own bytes, before any translation.
                        let pending = answer.pending.take();
                        if let (Some(mut draft), Some(recorder)) = (draft, &self.recorder) {
                            draft.raw_request = answer.stored.take();
                            answer.body = metered(
                                answer.body,
                                pending.as_ref().map_or(call.surface, |p| p.upstream),
                                answer.streamed,
                                answer.status,
                                draft,
                                Arc::clone(recorder),
                            );
                        }
                        if let Some(pending) = pending {
                            answer.body = pending.apply(answer.body);
                        }
                        if let Some(raw) = answer.raw.take() {
                            answer.body = raw.attach(answer.body);
                        }
                        // What the caller sees, translated or not: the usage chunk it did
                        // not ask for goes.
                        if strip_usage && answer.streamed {
                            answer.body = without_usage_chunk(answer.body);
                        }
                        return Ok(answer);
                    }
                    Err(missed) => missed,
                };
                if let Some(draft) = draft {
                    tried.events.push(draft.finish(ended(&missed), false));
                }
                if missed.failure.tells_of_the_provider() {
                    route.state.record((self.clock)(), &route.slug, true);
                }
                // The provider's own retries of this key, while they fit in the call's time.
                let wait = route.calling.backoff(retry);
                if missed.failure.retried()
                    && retry < route.calling.max_retries
                    && Instant::now() + wait < deadline
                {
                    log::debug!(
                        request_id = call.context.request_id.as_str(), attempt = number;
                        "attempt {number} at `{}` failed: {:?}; retry {} of {} in {wait:?}",
                        route.slug,
                        missed.failure,
                        retry + 1,
                        route.calling.max_retries
                    );
                    tried.keep(&route.slug, missed.told).await;
                    tried.failed(Some(&route.slug), &candidate.target.model, missed.failure);
                    retry += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                break Some(missed);
            };
            let Some(missed) = missed else { break };
            if let (Some(rest), Credential::Key(key)) =
                (missed.failure.rest(), &candidate.credential)
                && let Some(rest) =
                    self.cooldowns
                        .rest((key.id, key.version), rest, missed.failure.rest_cause())
            {
                log::warn!(
                    request_id = call.context.request_id.as_str(), attempt = last.attempts;
                    "provider key {} ({}) of `{}` rests for {}s: {}",
                    key.id,
                    key.name,
                    route.slug,
                    rest.as_secs_f64(),
                    missed.failure.why_rest()
                );
            }
            if missed.failure.class() == Class::Request {
                skipped_name = Some(candidate.name);
            }
            if missed.failure == Failure::Busy {
                busy.push(&route.slug);
            }
            // Only a candidate that can be called makes another attempt worth it.
            let more = plan[i + 1..].iter().any(|step| {
                matches!(step, Step::Try(c) if skipped_name != Some(c.name)
                    && !busy.contains(&c.target.route.slug.as_str()))
            });
            if tried.attempts.is_empty() && !more {
                tried.record_events(self, true);
                // The only attempt: the client hears what the upstream (or the gateway) said.
                return match missed.told {
                    Told::Upstream(mut answer) => {
                        answer.chosen.attempts = 1;
                        Ok(answer)
                    }
                    Told::Gateway(error) => Err((error, last)),
                };
            }
            tried.keep(&route.slug, missed.told).await;
            log::debug!(
                request_id = call.context.request_id.as_str(), attempt = last.attempts;
                "attempt {} at `{}` ({}) failed: {:?}; trying the next candidate",
                last.attempts,
                route.slug,
                candidate.target.model,
                missed.failure
            );
            tried.failed(Some(&route.slug), &candidate.target.model, missed.failure);
        }
        tried.record_events(self, true);
        tried.outcome(last).await
    }

    /// An attempt's usage event as it starts, when usage is recorded.
    fn draft(
        &self,
        call: &Call<'_>,
        snapshot: &Snapshot,
        stream: bool,
        c: &Candidate,
        number: u32,
    ) -> Option<Draft> {
        self.recorder.as_ref()?;
        let route = &c.target.route;
        Some(Draft {
            request_id: call.context.request_id.clone(),
            access_key_id: call.context.caller.clone(),
            provider: route.slug.clone(),
            provider_name: route.name.clone(),
            model: c.target.model.clone(),
            attempt_number: number,
            is_streaming: stream,
            key: match &c.credential {
                Credential::Key(key) => KeySource::User {
                    key_id: key.id,
                    redacted: key.key_redacted.clone(),
                },
                Credential::None | Credential::Missing => KeySource::None,
            },
            started: Instant::now(),
            // `/prices` first, then the config file's `[prices]`.
            price: snapshot
                .price_of(&route.slug, &c.target.model)
                .or_else(|| self.prices.of(&route.slug, &c.target.model)),
            wall: Arc::clone(&self.health.wall),
            raw_request: None,
        })
    }
}

/// How an attempt that did not answer ended, for its usage event.
fn ended(missed: &Missed) -> Ended {
    let status = match (&missed.failure, &missed.told) {
        (_, Told::Upstream(answer)) => answer.status,
        (Failure::Status { status, .. } | Failure::Invalid { status }, _) => *status,
        // It answered, and its stream broke before any content.
        (Failure::StreamBroken(_), _) => 200,
        _ => 0,
    };
    let mut ended = Ended::without_body(status, missed.failure == Failure::Timeout);
    ended.is_error = true;
    ended
}

/// The most of a refused answer's body read so its connection goes back to the pool: a body
/// dropped unread takes its connection with it, and the next call would pay for a new one.
/// Error bodies are small and come with their heads; one that does not within the wait is
/// dropped with its connection.
const DRAIN_BYTES: usize = 64 * 1024;
const DRAIN_WAIT: Duration = Duration::from_millis(250);

async fn drain(answer: Answer) {
    let mut body = answer.body;
    let mut read = 0;
    let until = Instant::now() + DRAIN_WAIT;
    while read <= DRAIN_BYTES {
        match tokio::time::timeout_at(until, body.next()).await {
            Ok(Some(Ok(chunk))) => read += chunk.len(),
            _ => return,
        }
    }
}
