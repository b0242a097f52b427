//! A call's plan: its body read (`body`), its model names resolved against the routing
//! snapshot (`resolve`), model aliases first (`alias`), and every candidate laid out in the
//! order to try them — for `model` (or an alias's target, then its fallbacks), then each of
//! the body's fallback `models` (each alias among them likewise), every provider that serves
//! it, and for each provider its keys (newest first, or as the caller's router rule orders
//! them; resting keys last).

mod alias;
pub mod body;
pub mod resolve;
pub mod stream_usage;

use std::sync::Arc;

use super::error::{Code, GatewayError};
use super::table::{Rules, Snapshot, Taken};
use super::{Call, Gateway};
use crate::domain::ProviderKey;
use crate::domain::surface::Surface;
use body::CallBody;
use resolve::{Target, candidates};

/// The most candidates one call lays out: 17 model names of up to 16 providers with several
/// keys each could otherwise make thousands, and no budget of time would reach them.
pub const MAX_CANDIDATES: usize = 64;

/// Which credential a candidate is called with.
pub(super) enum Credential {
    /// A custom provider without keys: none.
    None,
    Key(Arc<ProviderKey>),
    /// A provider that needs a key and has none.
    Missing,
}

impl Credential {
    pub(super) fn key_id(&self) -> Option<ulid::Ulid> {
        match self {
            Credential::Key(key) => Some(key.id),
            Credential::None | Credential::Missing => None,
        }
    }
}

pub(super) struct Candidate {
    pub(super) target: Target,
    pub(super) credential: Credential,
    /// Which of the call's model names this candidate serves (0: `model`).
    pub(super) name: usize,
}

/// One step of a call's plan.
pub(super) enum Step {
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
    pub(super) fn name(&self) -> usize {
        match self {
            Step::Try(c) => c.name,
            Step::Unroutable { name, .. } => *name,
        }
    }
}

/// The targets left once those whose provider refuses this call's stream are taken out (the
/// next one that serves it is tried instead); none left refuses the name, naming the first.
fn streamable(
    mut targets: Vec<Target>,
    surface: Surface,
    streamed: bool,
) -> Result<Vec<Target>, GatewayError> {
    if !streamed {
        return Ok(targets);
    }
    let refuses = |t: &Target| {
        let upstream = t.translation.map_or(surface, |d| d.upstream());
        t.route
            .dialect
            .as_ref()
            .is_some_and(|d| d.refuses(upstream, true))
    };
    let Some(first) = targets.iter().find(|t| refuses(t)).map(|t| {
        let upstream = t.translation.map_or(surface, |d| d.upstream());
        (t.route.slug.clone(), upstream)
    }) else {
        return Ok(targets);
    };
    targets.retain(|t| !refuses(t));
    if !targets.is_empty() {
        return Ok(targets);
    }
    let (slug, upstream) = first;
    Err(GatewayError::new(
        Code::StreamNotAllowed,
        format!(
            "provider `{slug}` does not allow streamed {} `{}` calls (its allowed_requests \
             turn the stream off); call without `stream`, or name a provider that allows it",
            upstream.format().name(),
            upstream.name()
        ),
    )
    .at("stream"))
}

impl Gateway {
    /// Every candidate, in the order to try them, each (provider, model, key) once. A `model`
    /// that does not resolve refuses the call before any attempt.
    pub(super) fn plan(
        &self,
        snapshot: &Snapshot,
        body: &CallBody<'_>,
        call: &Call<'_>,
    ) -> Result<Vec<Step>, GatewayError> {
        let fallbacks = if call.fallback { &body.models[..] } else { &[] };
        let scope = snapshot.scope(call.context.configuration);
        let rules = snapshot.rules(call.context.configuration);
        let mut taken = Taken::default();
        let mut plan: Vec<Step> = Vec::new();
        let names = alias::names(snapshot, &body.model, fallbacks, call.fallback);
        for (name, model) in names.enumerate() {
            if plan.len() >= MAX_CANDIDATES {
                break;
            }
            let found = candidates(snapshot, model, call.surface, scope.as_deref())
                .and_then(|targets| streamable(targets, call.surface, body.stream));
            let targets = match found {
                Ok(targets) => targets,
                Err(e) if name == 0 => return Err(alias::explained(snapshot, &body.model, e)),
                Err(mut error) => {
                    if error.code == Code::ModelNotAllowed {
                        error.code = Code::NotAllowed;
                    }
                    plan.push(Step::Unroutable {
                        name,
                        model: model.to_owned(),
                        error,
                    });
                    continue;
                }
            };
            for target in targets {
                for credential in self.credentials(snapshot, &target, rules, &mut taken) {
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
                                translation: target.translation,
                                estimate: target.estimate,
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

    /// A provider's keys that may serve the target's model, newest first (or the one their
    /// weights choose first) — or, when a router rule is for the target, the rule's keys in
    /// its order — and resting ones last; none for a custom provider without keys.
    fn credentials(
        &self,
        snapshot: &Snapshot,
        target: &Target,
        rules: Option<&Rules>,
        taken: &mut Taken,
    ) -> Vec<Credential> {
        let ruled = rules.and_then(|r| r.keys(snapshot, &target.route, &target.model, taken));
        // A router rule orders its keys by its own strategy; the keys' weights are for the rest.
        let weighed = ruled.is_none();
        let mut keys = ruled.unwrap_or_else(|| snapshot.keys(&target.route.slug));
        if keys.is_empty() || target.route.calling.keyless {
            return vec![match target.route.catalog {
                true => Credential::Missing,
                false => Credential::None,
            }];
        }
        // A key limited to other models is never sent with this one; a provider that has
        // keys, none of them for this model, is not called without one.
        keys.retain(|k| k.routing.serves(&target.model));
        if keys.is_empty() {
            return vec![Credential::Missing];
        }
        if weighed && keys.iter().any(|k| k.routing.weight.is_some()) {
            target.route.state.weighted().put_first(&mut keys);
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
