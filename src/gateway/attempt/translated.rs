//! The attempt's side of a translated call (`gateway::translate`): the body sent in the
//! provider's format, and its answer turned back into the caller's format — read whole when
//! it is not a stream, its status kept; a stream past its commit point translated event by
//! event, after the watch, so its idle timeout and error events stay those of any stream.

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use tokio::time::Instant;

use super::super::error::{Code, GatewayError};
use super::super::plan::Candidate;
use super::super::plan::body::CallBody;
use super::super::policy::Failure;
use super::super::translate::stream::Translator;
use super::super::translate::{self, DROPPED_HEADER, Direction, Options, Translated};
use super::super::{Answer, Call, Chosen};
use super::commit::Chunks;
use super::{Missed, Told};
use crate::domain::now_ms;
use crate::domain::surface::{Format, Surface};

/// The most of a translated answer read: far above any chat answer, and a bound on what one
/// call may hold in memory.
const MOST_BYTES: usize = 32 << 20;

/// The body sent upstream: the call's, rewritten for the candidate, then in the provider's
/// format when the candidate needs it, with what was dropped on the way (lenient calls).
pub(super) fn body(
    call: &Call<'_>,
    body: &CallBody<'_>,
    candidate: &Candidate,
) -> Result<Translated, GatewayError> {
    let target = &candidate.target;
    let rewritten = body.rewritten(&target.model);
    let Some(direction) = target.translation else {
        return Ok(Translated {
            body: rewritten,
            dropped: Vec::new(),
            include_usage: false,
        });
    };
    // Only an OpenAI provider's parameters are declared (`supportedParams`) to check against.
    let supported: Vec<String> = target
        .route
        .surfaces
        .iter()
        .filter(|s| direction.upstream().format() == Format::OpenAi && s.format == "openai")
        .filter(|s| {
            s.surface
                .as_deref()
                .is_none_or(|n| n == direction.upstream().name())
        })
        .flat_map(|s| s.supported_params.iter().cloned())
        .collect();
    let options = Options {
        lenient: call.lenient,
        supported_params: &supported,
    };
    translate::request(direction, &rewritten, options)
}

/// Names what a lenient translation dropped, in the answer's headers.
pub(super) fn tag(headers: &mut Vec<(HeaderName, HeaderValue)>, dropped: &[String]) {
    if !dropped.is_empty()
        && let Ok(value) = HeaderValue::from_str(&dropped.join(", "))
    {
        headers.push((HeaderName::from_static(DROPPED_HEADER), value));
    }
}

/// A translated answer's last step, taken by the call loop once the meter is on the upstream's
/// bytes: the meter reads the counts and stop reason as the upstream sent them, since the
/// caller's format has no place for some (OpenAI's reasoning tokens in Anthropic's usage,
/// Anthropic's cache writes in OpenAI's) and an OpenAI stream tells none unless asked.
pub(in crate::gateway) struct Pending {
    /// The surface whose format the upstream's bytes are in.
    pub(in crate::gateway) upstream: Surface,
    then: Then,
}

enum Then {
    /// A whole answer, translated already (a body that cannot be fails the attempt): sent
    /// once the upstream's bytes have been read.
    Whole(Bytes),
    /// A stream, translated event by event.
    Stream {
        direction: Direction,
        model: String,
        include_usage: bool,
    },
}

impl Pending {
    pub(super) fn stream(direction: Direction, model: &str, include_usage: bool) -> Pending {
        Pending {
            upstream: direction.upstream(),
            then: Then::Stream {
                direction,
                model: model.to_owned(),
                include_usage,
            },
        }
    }

    /// The caller's body, from the upstream's.
    pub(in crate::gateway) fn apply(self, upstream: Chunks) -> Chunks {
        match self.then {
            Then::Whole(translated) => stream::once(async move {
                // In memory already: reading it only lets the meter see it to its end.
                let mut upstream = upstream;
                while upstream.next().await.is_some() {}
                Ok(translated)
            })
            .boxed(),
            Then::Stream {
                direction,
                model,
                include_usage,
            } => self::stream(direction, upstream, &model, include_usage),
        }
    }
}

/// A committed stream of the provider's events, watched, as the caller's events, each
/// translated as it arrives.
fn stream(direction: Direction, chunks: Chunks, model: &str, include_usage: bool) -> Chunks {
    let translator = Translator::new(direction, model, include_usage, now_ms() / 1000);
    stream::unfold(Some((chunks, translator)), |state| async move {
        let (mut chunks, mut translator) = state?;
        loop {
            match chunks.next().await {
                Some(Ok(chunk)) => {
                    let out = translator.feed(&chunk);
                    if !out.is_empty() {
                        return Some((Ok(Bytes::from(out)), Some((chunks, translator))));
                    }
                }
                Some(Err(e)) => return Some((Err(e), Some((chunks, translator)))),
                None => {
                    let out = translator.finish();
                    return (!out.is_empty()).then(|| (Ok(Bytes::from(out)), None));
                }
            }
        }
    })
    .boxed()
}

/// A count-tokens call's answer for a provider that has no such route: the input estimated
/// from its bytes (as `maxInputTokens` estimates it), and `x-modelgate-estimate: true`.
pub(super) fn estimate(body: &CallBody<'_>, candidate: &Candidate, number: u32) -> Answer {
    let counted = serde_json::json!({"input_tokens": body.input_estimate()}).to_string();
    Answer {
        status: 200,
        headers: vec![
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                HeaderName::from_static(translate::ESTIMATE_HEADER),
                HeaderValue::from_static("true"),
            ),
        ],
        streamed: false,
        body: stream::once(async move { Ok(Bytes::from(counted)) }).boxed(),
        chosen: Chosen {
            provider: Some(candidate.target.route.slug.clone()),
            model: Some(candidate.target.model.clone()),
            attempts: number,
            fallbacks: 0,
        },
        pending: None,
        raw: None,
        stored: None,
    }
}

/// What the caller named the model this candidate serves: `model`, or one of `models`.
pub(super) fn caller_model<'b>(body: &'b CallBody<'_>, candidate: &Candidate) -> &'b str {
    match candidate.name {
        0 => &body.model,
        n => body.models.get(n - 1).unwrap_or(&body.model),
    }
}

/// The upstream's answer in the caller's format: an error answer (`failed` says how the
/// attempt failed) re-shaped with its status, a success translated; a stream, a body that
/// breaks or outlives `deadline`, or one that is not the provider's format's answer fails the
/// attempt.
pub(super) async fn answer(
    direction: Direction,
    mut answer: Answer,
    failed: Option<Failure>,
    model: &str,
    deadline: Instant,
) -> Result<Answer, Missed> {
    let provider = answer.chosen.provider.clone().unwrap_or_default();
    let gateway = |failure, error| Missed {
        failure,
        told: Told::Gateway(error),
    };
    let untranslatable = |error| gateway(Failure::NotCallable(Code::UntranslatableResponse), error);
    if failed.is_none() && answer.streamed {
        return Err(untranslatable(GatewayError::new(
            Code::UntranslatableResponse,
            format!("provider `{provider}` answered a stream to a call that asked for none"),
        )));
    }
    let read = tokio::time::timeout_at(deadline, whole(&mut answer.body)).await;
    let bytes = match (read, &failed) {
        (Ok(Ok(bytes)), _) => bytes,
        // An error's words are the upstream's to give, when it gives them in time.
        (_, Some(_)) => Vec::new(),
        (Err(_), None) => {
            let error = GatewayError::new(
                Code::UpstreamTimeout,
                format!("provider `{provider}` did not finish its answer in time"),
            );
            return Err(gateway(Failure::Timeout, error));
        }
        (Ok(Err(why)), None) => {
            let error = GatewayError::new(
                Code::UpstreamUnreachable,
                format!("provider `{provider}`'s answer broke off: {why}"),
            );
            return Err(gateway(Failure::Unreachable, error));
        }
    };
    answer.headers.retain(|(name, _)| name != CONTENT_TYPE);
    answer
        .headers
        .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
    let Some(failure) = failed else {
        let body =
            translate::response(direction, &bytes, model, now_ms() / 1000).map_err(|mut e| {
                e.message = format!("provider `{provider}`: {}", e.message);
                untranslatable(e)
            })?;
        let upstream = Bytes::from(bytes);
        if let Some(raw) = &mut answer.raw {
            raw.keep_upstream(&upstream);
        }
        answer.body = stream::once(async move { Ok(upstream) }).boxed();
        answer.pending = Some(Pending {
            upstream: direction.upstream(),
            then: Then::Whole(Bytes::from(body)),
        });
        return Ok(answer);
    };
    let body = translate::error(direction, answer.status, &bytes);
    answer.body = stream::once(async move { Ok(Bytes::from(body)) }).boxed();
    Err(Missed {
        failure,
        told: Told::Upstream(answer),
    })
}

/// A body read to its end, up to [`MOST_BYTES`].
async fn whole(body: &mut Chunks) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if out.len() + chunk.len() > MOST_BYTES {
            return Err(format!("it is larger than {MOST_BYTES} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
