//! A model call, attempt after attempt. The candidates are laid out first: for `model`, then
//! each of the body's fallback `models`, every provider that serves it, and for each provider
//! its keys (newest first, resting keys last). They are tried in order, each attempt within
//! what is left of the call's time, until one answers; what each failure means for the rest is
//! `attempt`'s policy. A streamed answer counts as answered at its first content
//! (`commit`): a stream that breaks before then fails over like any other attempt.

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::attempt::{self, Class, Failure};
use super::body::CallBody;
use super::breaker;
use super::commit::{self, Peeked};
use super::error::{Attempt, GatewayError, Kind};
use super::resolve::{Target, candidates};
use super::table::Snapshot;
use super::{Answer, Call, Chosen, Gateway, timed_out, unreachable, upstream, worker_client};
use crate::domain::ProviderKey;
use crate::domain::now_ms;

/// The most candidates one call lays out: 17 model names of up to 16 providers with several
/// keys each could otherwise make thousands, and no budget of time would reach them.
pub const MAX_CANDIDATES: usize = 64;

/// Which credential a candidate is called with.
enum Credential {
    /// A custom provider without keys: none.
    None,
    Key(Arc<ProviderKey>),
    /// A provider that needs a key and has none.
    Missing,
}

impl Credential {
    fn key_id(&self) -> Option<ulid::Ulid> {
        match self {
            Credential::Key(key) => Some(key.id),
            Credential::None | Credential::Missing => None,
        }
    }
}

struct Candidate {
    target: Target,
    credential: Credential,
    /// Which of the call's model names this candidate serves (0: `model`).
    name: usize,
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

/// An attempt that did not answer the client: why, and what the client hears when it was the
/// call's only attempt.
struct Missed {
    failure: Failure,
    told: Told,
}

enum Told {
    /// The upstream's own answer, passed on unchanged.
    Upstream(Answer),
    /// The gateway's words: no answer came, or no call could be made.
    Gateway(GatewayError),
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
        let (mut failures, mut attempts) = (Vec::new(), Vec::<Attempt>::new());
        let mut skipped_name = None;
        let mut last = Chosen::default();
        let mut out_of_time = false;
        for (i, step) in plan.iter().enumerate() {
            if skipped_name == Some(step.name()) {
                continue;
            }
            let candidate = match step {
                Step::Try(candidate) => candidate,
                Step::Unroutable { model, error, .. } => {
                    log::debug!("fallback model `{model}` is not routable: {error}");
                    let failure = Failure::NotCallable(error.code);
                    attempts.push(attempt::told(None, model, &failure));
                    failures.push(failure);
                    continue;
                }
            };
            let now = Instant::now();
            if now >= deadline {
                out_of_time = true;
                break;
            }
            let budget = self.timeouts.attempt.min(deadline - now);
            let route = &candidate.target.route;
            last = Chosen {
                provider: Some(route.slug.clone()),
                model: Some(candidate.target.model.clone()),
                attempts: attempts.len() as u32 + 1,
            };
            let missed = match self.attempt(&call, &body, candidate, budget).await {
                Ok(mut answer) => {
                    self.breakers.record(&route.slug, false);
                    answer.attempts = last.attempts;
                    return Ok(answer);
                }
                Err(missed) => missed,
            };
            if missed.failure.tells_of_the_provider() {
                self.breakers.record(&route.slug, true);
            }
            if let (Some(rest), Credential::Key(key)) =
                (missed.failure.rest(), &candidate.credential)
            {
                self.cooldowns.rest((key.id, key.version), rest);
            }
            if missed.failure.class() == Class::Request {
                skipped_name = Some(candidate.name);
            }
            // Only a candidate that can be called makes another attempt worth it.
            let more = plan[i + 1..]
                .iter()
                .any(|step| matches!(step, Step::Try(c) if skipped_name != Some(c.name)));
            if attempts.is_empty() && !more {
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
            attempts.push(attempt::told(
                Some(&route.slug),
                &candidate.target.model,
                &missed.failure,
            ));
            failures.push(missed.failure);
        }
        last.attempts = attempts.len() as u32;
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
        if keys.is_empty() {
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

    /// One upstream call, up to its answer's head (and, for a stream, its first content).
    async fn attempt(
        &self,
        call: &Call<'_>,
        body: &CallBody<'_>,
        candidate: &Candidate,
        budget: Duration,
    ) -> Result<Answer, Missed> {
        let Candidate {
            target, credential, ..
        } = candidate;
        let route = &target.route;
        let not_callable = |code, error| Missed {
            failure: Failure::NotCallable(code),
            told: Told::Gateway(error),
        };
        let key = match credential {
            Credential::None => None,
            Credential::Missing => {
                return Err(not_callable("no_usable_key", no_key(&route.slug)));
            }
            Credential::Key(key) => match key.reveal(&self.master_key) {
                Ok(value) => Some((key.id, value)),
                Err(e) => {
                    log::warn!(
                        "provider key {} of `{}` cannot be used: {e}",
                        key.id,
                        route.slug
                    );
                    return Err(not_callable("no_usable_key", unusable_key(&route.slug)));
                }
            },
        };
        let format = call.surface.format();
        let prepared = route.url(call.surface).and_then(|url| {
            let value = key
                .as_ref()
                .map(|(_, v): &(_, Zeroizing<String>)| v.as_str());
            Ok((url.clone(), upstream::headers(format, value, &call.passed)?))
        });
        let (url, headers) = prepared.map_err(|e| not_callable(e.code, e))?;
        let client = worker_client().map_err(|e| not_callable(e.code, e))?;
        let started = Instant::now();
        let request = client
            .post(url)
            .headers(headers)
            .body(body.rewritten(&target.model));
        if let Some((id, _)) = &key {
            self.uses.record(*id, now_ms());
        }
        let missed = |failure, error| Missed {
            failure,
            told: Told::Gateway(error),
        };
        let response = match tokio::time::timeout(budget, request.send()).await {
            Err(_) => return Err(missed(Failure::Timeout, timed_out(route, budget))),
            Ok(Err(e)) if e.is_timeout() => {
                return Err(missed(Failure::Timeout, timed_out(route, budget)));
            }
            Ok(Err(e)) => return Err(missed(Failure::Unreachable, unreachable(route, &e))),
            Ok(Ok(response)) => response,
        };
        let headers: Vec<(String, Vec<u8>)> = response
            .headers()
            .iter()
            .filter(|(name, _)| upstream::returned(name.as_str()))
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect();
        let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| &v[..]);
        let sse = header("content-type").is_some_and(|v| v.starts_with(b"text/event-stream"));
        let status = response.status();
        let deadline = started + budget;
        let chunks = response.bytes_stream().boxed();
        let answer = |body| Answer {
            status: status.as_u16(),
            headers: headers.clone(),
            provider: route.slug.clone(),
            model: target.model.clone(),
            streamed: sse,
            body,
            attempts: 0,
        };
        let watch =
            |chunks| upstream::watched(chunks, sse.then_some(format), self.timeouts, deadline);
        if !status.is_success() {
            let failure = Failure::Status {
                status: status.as_u16(),
                retry_after: attempt::retry_after(header("retry-after-ms"), header("retry-after")),
            };
            return Err(Missed {
                failure,
                told: Told::Upstream(answer(watch(chunks))),
            });
        }
        if !sse {
            return Ok(answer(watch(chunks)));
        }
        match commit::until_content(format, chunks, self.timeouts.idle).await {
            Peeked::Committed { held, rest } => {
                // The held events go through the same watch, which looks for the stream's end.
                let chunks = stream::once(async move { Ok(held) }).chain(rest).boxed();
                Ok(answer(watch(chunks)))
            }
            Peeked::Failed(code) => {
                log::warn!(
                    "the stream of `{}` failed before its first content: {code}",
                    route.slug
                );
                Err(missed(
                    Failure::StreamBroken(code),
                    GatewayError::new(
                        Kind::Unreachable,
                        code,
                        format!(
                            "provider `{}` started a stream and {} before its first content",
                            route.slug,
                            match code {
                                "stream_idle_timeout" => "went quiet",
                                _ => "broke",
                            }
                        ),
                    ),
                ))
            }
        }
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

fn no_key(slug: &str) -> GatewayError {
    GatewayError::new(
        Kind::NoUsableKey,
        "no_usable_key",
        format!("provider `{slug}` has no provider key; add one under /provider-keys"),
    )
}

fn unusable_key(slug: &str) -> GatewayError {
    GatewayError::new(
        Kind::NoUsableKey,
        "no_usable_key",
        format!(
            "provider `{slug}` has no provider key that can be used now (an env.NAME key needs \
             its variable set in modelgate's environment)"
        ),
    )
}
