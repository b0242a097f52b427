//! A model call, attempt after attempt. The candidates are laid out first: for `model`, then
//! each of the body's fallback `models`, every provider that serves it, and for each provider
//! its keys (newest first, resting keys last). They are tried in order, each attempt within
//! what is left of the call's time, until one answers; what each failure means for the rest is
//! `attempt`'s policy. A streamed answer counts as answered at its first content
//! (`commit`): a stream that breaks before then fails over like any other attempt.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::StreamExt;
use tokio::time::Instant;

use super::attempt::{self, Class, Failure};
use super::body::CallBody;
use super::breaker;
use super::error::{Attempt, GatewayError};
use super::resolve::{Target, candidates};
use super::send::{Candidate, Credential, Told};
use super::table::Snapshot;
use super::{Answer, Call, Chosen, Gateway};

/// The most candidates one call lays out: 17 model names of up to 16 providers with several
/// keys each could otherwise make thousands, and no budget of time would reach them.
pub const MAX_CANDIDATES: usize = 64;

/// What a call's attempts came to so far.
#[derive(Default)]
struct Tried {
    failures: Vec<Failure>,
    attempts: Vec<Attempt>,
    /// Candidates tried (a candidate's retries are one).
    candidates: u32,
    out_of_time: bool,
}

impl Tried {
    fn failed(&mut self, provider: Option<&str>, model: &str, failure: Failure) {
        self.attempts.push(attempt::told(provider, model, &failure));
        self.failures.push(failure);
    }
}

/// One step of a call's plan.
enum Step {
    Try(Candidate),
    /// A fallback model that names nothing routable now: it fails in its turn (and is listed
    /// with the attempts) rather than refusing a call whose first candidates may answer.
    Unroutable {
        name: usize,
        model: String,
        error: GatewayError,
    },
}

impl Step {
    fn name(&self) -> usize {
        match self {
            Step::Try(c) => c.name,
            Step::Unroutable { name, .. } => *name,
        }
    }
}

impl Gateway {
    /// Routes and sends one call. The answer's head has arrived when this returns; its body
    /// follows as the upstream sends it.
    pub async fn call(&self, call: Call<'_>) -> Result<Answer, (GatewayError, Chosen)> {
        let nothing = |e| (e, Chosen::default());
        let body = CallBody::parse(call.body).map_err(nothing)?;
        let snapshot = self.table.snapshot();
        let deadline = Instant::now() + self.timeouts.total;
        let mut plan = self.plan(&snapshot, &body, &call).map_err(nothing)?;
        // A provider whose circuit is open goes after the others serving the same name (a
        // lone candidate, the usual call, has no one to go after).
        if plan.len() > 1 {
            plan.sort_by_key(|step| {
                let open = matches!(step, Step::Try(c)
                if self.breakers.state(&c.target.route.slug) == breaker::State::Open);
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
                    log::debug!("fallback model `{model}` is not routable: {error}");
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
                let per_attempt = route
                    .calling
                    .request_timeout
                    .unwrap_or(self.timeouts.attempt);
                let budget = per_attempt.min(deadline - now);
                last = Chosen {
                    provider: Some(route.slug.clone()),
                    model: Some(candidate.target.model.clone()),
                    attempts: tried.attempts.len() as u32 + 1,
                    fallbacks,
                };
                let missed = match self.attempt(&call, &body, candidate, budget).await {
                    Ok(mut answer) => {
                        self.breakers.record(&route.slug, false);
                        answer.attempts = last.attempts;
                        answer.fallbacks = fallbacks;
                        return Ok(answer);
                    }
                    Err(missed) => missed,
                };
                if missed.failure.tells_of_the_provider() {
                    self.breakers.record(&route.slug, true);
                }
                // The provider's own retries of this key, while they fit in the call's time.
                let wait = route.calling.backoff(retry);
                if missed.failure.retried()
                    && retry < route.calling.max_retries
                    && Instant::now() + wait < deadline
                {
                    log::debug!(
                        "attempt {} at `{}` failed: {:?}; retry {} of {} in {wait:?}",
                        last.attempts,
                        route.slug,
                        missed.failure,
                        retry + 1,
                        route.calling.max_retries
                    );
                    if let Told::Upstream(answer) = missed.told {
                        drain(answer).await;
                    }
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
            {
                self.cooldowns.rest((key.id, key.version), rest);
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
                // The only attempt: the client hears what the upstream (or the gateway) said.
                return match missed.told {
                    Told::Upstream(mut answer) => {
                        answer.attempts = 1;
                        Ok(answer)
                    }
                    Told::Gateway(error) => Err((error, last)),
                };
            }
            if let Told::Upstream(answer) = missed.told {
                drain(answer).await;
            }
            log::debug!(
                "attempt {} at `{}` ({}) failed: {:?}; trying the next candidate",
                last.attempts,
                route.slug,
                candidate.target.model,
                missed.failure
            );
            tried.failed(Some(&route.slug), &candidate.target.model, missed.failure);
        }
        last.attempts = tried.attempts.len() as u32;
        last.fallbacks = tried.candidates.saturating_sub(1);
        let Tried {
            failures,
            attempts,
            out_of_time,
            ..
        } = tried;
        Err((attempt::outcome(&failures, attempts, out_of_time), last))
    }

    /// Every candidate, in the order to try them, each (provider, model, key) once. A `model`
    /// that does not resolve refuses the call before any attempt.
    fn plan(
        &self,
        snapshot: &Snapshot,
        body: &CallBody<'_>,
        call: &Call<'_>,
    ) -> Result<Vec<Step>, GatewayError> {
        let fallbacks = if call.fallback { &body.models[..] } else { &[] };
        let mut plan: Vec<Step> = Vec::new();
        for (name, model) in std::iter::once(&body.model).chain(fallbacks).enumerate() {
            if plan.len() >= MAX_CANDIDATES {
                break;
            }
            let targets = match candidates(snapshot, model, call.surface) {
                Ok(targets) => targets,
                Err(e) if name == 0 => return Err(e),
                Err(error) => {
                    plan.push(Step::Unroutable {
                        name,
                        model: model.clone(),
                        error,
                    });
                    continue;
                }
            };
            for target in targets {
                for credential in self.credentials(snapshot, &target) {
                    // At most 64 steps: a scan costs less than hashing owned copies of each.
                    let again = plan.iter().any(|step| {
                        matches!(step, Step::Try(c) if Arc::ptr_eq(&c.target.route, &target.route)
                            && c.target.model == target.model
                            && c.credential.key_id() == credential.key_id())
                    });
                    if !again {
                        plan.push(Step::Try(Candidate {
                            target: Target {
                                route: Arc::clone(&target.route),
                                model: target.model.clone(),
                            },
                            credential,
                            name,
                        }));
                    }
                }
            }
        }
        plan.truncate(MAX_CANDIDATES);
        Ok(plan)
    }

    /// A provider's keys, newest first and resting ones last; none for a custom provider
    /// without keys.
    fn credentials(&self, snapshot: &Snapshot, target: &Target) -> Vec<Credential> {
        let keys = snapshot.keys(&target.route.slug);
        if keys.is_empty() || target.route.calling.keyless {
            return vec![match target.route.catalog {
                true => Credential::Missing,
                false => Credential::None,
            }];
        }
        let (ready, resting): (Vec<_>, Vec<_>) = keys
            .into_iter()
            .partition(|k| !self.cooldowns.resting((k.id, k.version)));
        ready
            .into_iter()
            .chain(resting)
            .map(Credential::Key)
            .collect()
    }
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
