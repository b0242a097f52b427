//! The attempt's side of a translated call (`gateway::translate`): the body sent in the
//! provider's format, and its answer — read whole, as it is not streamed — turned back into
//! the caller's format, its status kept.

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use tokio::time::Instant;

use super::super::error::{Code, GatewayError};
use super::super::plan::Candidate;
use super::super::plan::body::CallBody;
use super::super::policy::Failure;
use super::super::translate::{self, DROPPED_HEADER, Direction, Options};
use super::super::{Answer, Call};
use super::{Missed, Told};
use crate::domain::now_ms;
use crate::domain::surface::Format;

/// The most of a translated answer read: far above any chat answer, and a bound on what one
/// call may hold in memory.
const MOST_BYTES: usize = 32 << 20;

/// The body sent upstream: the call's, rewritten for the candidate, then in the provider's
/// format when the candidate needs it; and what was dropped on the way (lenient calls).
pub(super) fn body(
    call: &Call<'_>,
    body: &CallBody<'_>,
    candidate: &Candidate,
) -> Result<(Vec<u8>, Vec<String>), GatewayError> {
    let target = &candidate.target;
    let rewritten = body.rewritten(&target.model);
    let Some(direction) = target.translation else {
        return Ok((rewritten, Vec::new()));
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
    let translated = translate::request(direction, &rewritten, options)?;
    Ok((translated.body, translated.dropped))
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
    dropped: &[String],
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
    let body = match &failed {
        Some(_) => translate::error(direction, answer.status, &bytes),
        None => {
            translate::response(direction, &bytes, model, now_ms() / 1000).map_err(|mut e| {
                e.message = format!("provider `{provider}`: {}", e.message);
                untranslatable(e)
            })?
        }
    };
    answer.headers.retain(|(name, _)| name != CONTENT_TYPE);
    answer
        .headers
        .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
    if !dropped.is_empty()
        && let Ok(value) = HeaderValue::from_str(&dropped.join(", "))
    {
        answer
            .headers
            .push((HeaderName::from_static(DROPPED_HEADER), value));
    }
    answer.body = stream::once(async move { Ok(Bytes::from(body)) }).boxed();
    match failed {
        None => Ok(answer),
        Some(failure) => Err(Missed {
            failure,
            told: Told::Upstream(answer),
        }),
    }
}

/// A body read to its end, up to [`MOST_BYTES`].
async fn whole(
    body: &mut futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>,
) -> Result<Vec<u8>, String> {
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
