//! The data plane's HTTP side: OpenAI- and Anthropic-format routes under `/v1`. Each route
//! fixes the format and surface; the caller's credential is checked here (and never forwarded),
//! the body read within the data plane's own limit, and the gateway's answer streamed back as
//! it arrives, framed as its status and the caller's HTTP version allow (`framing`). Errors
//! come in the route's format's shape.

pub mod cors;
pub mod framing;
mod leaving;
mod models;
mod quota;

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::body::read_bytes;
use super::error::ApiError;
use super::request_id::RequestId;
use crate::auth::{Credentials, Identity, Kind as CredentialKind, bearer_token};
use crate::domain::surface::{Format, Surface};
use crate::gateway::attempt::request::Passed;
use crate::gateway::error::{Code, GatewayError, Kind, wire};
use crate::gateway::{Call, CallContext, Chosen};

pub const REQUEST_ID: &str = super::request_id::HEADER;
pub const PROVIDER: &str = "x-modelgate-provider";
pub const MODEL: &str = "x-modelgate-model";
/// How many candidates (provider, model, key) the call tried, and how many of those were
/// fallbacks after the first.
pub const ATTEMPTS: &str = "x-modelgate-attempts";
pub const FALLBACKS: &str = "x-modelgate-fallbacks";
/// A caller's `off` here keeps a call to its first candidate.
pub const FALLBACK: &str = "x-modelgate-fallback";

/// The data plane's own body limit (`gateway.max_body_bytes`), apart from the management API's.
#[derive(Debug, Clone, Copy)]
pub struct ProxyBodyLimit(pub usize);

pub(super) fn configure(cfg: &mut web::ServiceConfig, cors: bool) {
    let surface = |path: &'static str, surface: Surface| {
        web::resource(path)
            .route(web::post().to(move |req, payload, state| proxy(req, payload, state, surface)))
            .default_service(web::to(move || async move {
                not_allowed(surface.format(), "POST")
            }))
    };
    cfg.service(
        web::scope("/v1")
            .wrap(actix_web::middleware::Condition::new(
                cors,
                actix_web::middleware::from_fn(cors::handle),
            ))
            .service(surface("/chat/completions", Surface::ChatCompletions))
            .service(surface("/completions", Surface::Completions))
            .service(surface("/responses", Surface::Responses))
            .service(surface("/embeddings", Surface::Embeddings))
            .service(surface("/messages", Surface::Messages))
            .service(surface("/messages/count_tokens", Surface::CountTokens))
            // An Anthropic SDK given a base URL ending in /v1 adds its own /v1.
            .service(surface("/v1/messages", Surface::Messages))
            .service(surface("/v1/messages/count_tokens", Surface::CountTokens))
            .configure(models::configure)
            .default_service(web::to(no_route)),
    );
}

/// One model call, from the caller's request to the upstream's answer.
async fn proxy(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    surface: Surface,
) -> HttpResponse {
    let started = Instant::now();
    let ulid = RequestId::ulid_of(&req);
    let id = ulid.to_string();
    let format = surface.format();
    let leaving = leaving::Leaving::new(ulid, req.uri(), started);
    let answered = async {
        let (caller, configuration) = authenticate(&req, &state)
            .and_then(|identity| within_rate(&req, &state, identity))
            .map_err(|e| (e, Chosen::default()))?;
        let limit = req.app_data::<ProxyBodyLimit>().map_or(32 << 20, |l| l.0);
        let body = read_bytes(&req, payload, limit).await.map_err(body_error)?;
        let call = Call {
            surface,
            body: &body,
            passed: passed(&req),
            fallback: fallback(&req).map_err(|e| (e, Chosen::default()))?,
            lenient: lenient(&req).map_err(|e| (e, Chosen::default()))?,
            context: CallContext {
                request_id: id.clone(),
                caller,
                configuration,
            },
        };
        state.gateway.call(call).await
    };
    let outcome = answered.await;
    let (status, chosen, streamed) = match &outcome {
        Ok(answer) => (answer.status, &answer.chosen, answer.streamed),
        Err((error, chosen)) => (error.kind().status(), chosen, false),
    };
    log::info!(
        target: "modelgate::proxy",
        request_id = id.as_str();
        "{id} {} provider={} model={} status={status} {:.1}ms streamed={streamed} attempts={}",
        req.path(),
        chosen.provider.as_deref().unwrap_or("-"),
        chosen.model.as_deref().unwrap_or("-"),
        started.elapsed().as_secs_f64() * 1000.0,
        chosen.attempts,
    );
    match outcome {
        Err((error, chosen)) => {
            leaving.finish();
            if chosen.attempts == 0 {
                state.metrics.refused(error.code.name());
            }
            refusal(format, &error, &chosen)
        }
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut response = HttpResponse::build(status);
            // The client's header types are another `http` release's than the server's.
            for (name, value) in &answer.headers {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_str().as_bytes()),
                    HeaderValue::from_bytes(value.as_bytes()),
                ) {
                    response.insert_header((name, value));
                }
            }
            tag(&mut response, &answer.chosen);
            framing::respond(&req, response, answer, leaving, format, &id).await
        }
    }
}

/// The caller must present a known token — the admin token, an `[[auth.tokens]]` one, a
/// management API key or an access key — as `Authorization: Bearer` or `x-api-key` (the two
/// SDK generations send one or the other; both is fine when they agree); the answer is the id
/// of its credential. With `gateway.require_access_keys`, only an access key passes.
fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Identity, GatewayError> {
    let credentials = req
        .app_data::<web::Data<Credentials>>()
        .ok_or_else(|| GatewayError::new(Code::Internal, "no credentials configured"))?;
    let mut authorizations = req.headers().get_all(header::AUTHORIZATION);
    let bearer = authorizations.next();
    if authorizations.next().is_some() {
        return Err(GatewayError::new(
            Code::InvalidHeader,
            "the Authorization header must be sent once",
        ));
    }
    let bearer = bearer.and_then(|v| v.to_str().ok()).and_then(bearer_token);
    let api_key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if let (Some(bearer), Some(api_key)) = (bearer, api_key)
        && bearer != api_key
    {
        // Which one a proxy or SDK meant is not for the gateway to guess.
        return Err(GatewayError::new(
            Code::InvalidHeader,
            "`Authorization: Bearer` and `x-api-key` carry different tokens; send one token",
        ));
    }
    if bearer.is_none() && api_key.is_none() {
        return Err(GatewayError::new(
            Code::MissingCredential,
            "send a modelgate token as `Authorization: Bearer <token>` or `x-api-key: <token>`",
        ));
    }
    match [bearer, api_key]
        .into_iter()
        .flatten()
        .find_map(|token| credentials.identify(token))
    {
        Some(identity) if state.require_access_keys && identity.kind != CredentialKind::Access => {
            Err(GatewayError::new(
                Code::AccessKeyRequired,
                "this gateway takes access keys only on /v1 (gateway.require_access_keys); \
                 make one with POST /access-keys and send its `mga_` token",
            ))
        }
        Some(identity) => {
            super::auth::note_use(Some(state), &identity);
            Ok(identity)
        }
        None => Err(GatewayError::new(
            Code::InvalidCredential,
            "the token is not valid for this gateway",
        )),
    }
}

/// An access key's model call checked against its `budget` and `tokensPerMinute` (`quota`),
/// then counted against its `requestsPerMinute`; past it, a 429 that says when the next
/// minute starts. Answers the caller's credential id and the configuration that scopes it.
fn within_rate(
    req: &HttpRequest,
    state: &AppState,
    identity: Identity,
) -> Result<(String, Option<ulid::Ulid>), GatewayError> {
    let now = req
        .app_data::<web::Data<Credentials>>()
        .map_or_else(crate::domain::now_ms, |c| c.now_ms());
    quota::within_quota(&state.spend, &identity, now)?;
    if let (Some(limit), Some(key)) = (identity.requests_per_minute, identity.stored)
        && let Err(wait) = state.per_minute.admit(key, limit, now)
    {
        let mut error = GatewayError::new(
            Code::RequestsPerMinuteExceeded,
            format!("this access key may make {limit} model calls per minute; retry later"),
        );
        error.retry_after = Some(wait);
        return Err(error);
    }
    Ok((identity.id, identity.configuration))
}

fn passed(req: &HttpRequest) -> Passed {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Passed {
        anthropic_version: header("anthropic-version"),
        anthropic_beta: header("anthropic-beta"),
        accept: header("accept"),
    }
}

/// `x-modelgate-fallback`: `on` (the default) or `off`.
fn fallback(req: &HttpRequest) -> Result<bool, GatewayError> {
    let mut values = req.headers().get_all(FALLBACK);
    let (first, second) = (values.next(), values.next());
    match (first.map(|v| v.as_bytes().to_ascii_lowercase()), second) {
        (None, _) => Ok(true),
        (Some(v), None) if v == b"on" => Ok(true),
        (Some(v), None) if v == b"off" => Ok(false),
        _ => Err(GatewayError::new(
            Code::InvalidHeader,
            format!("{FALLBACK} must be sent once, as `on` or `off`"),
        )),
    }
}

/// `x-modelgate-translation`: `strict` (the default) or `lenient`.
fn lenient(req: &HttpRequest) -> Result<bool, GatewayError> {
    let name = crate::gateway::translate::MODE_HEADER;
    let mut values = req.headers().get_all(name);
    let (first, second) = (values.next(), values.next());
    match (first.map(|v| v.as_bytes().to_ascii_lowercase()), second) {
        (None, _) => Ok(false),
        (Some(v), None) if v == b"strict" => Ok(false),
        (Some(v), None) if v == b"lenient" => Ok(true),
        _ => Err(GatewayError::new(
            Code::InvalidHeader,
            format!("{name} must be sent once, as `strict` or `lenient`"),
        )),
    }
}

fn body_error(e: ApiError) -> (GatewayError, Chosen) {
    let error = match e {
        ApiError::PayloadTooLarge { limit } => GatewayError::new(
            Code::RequestTooLarge,
            format!("the request body is larger than {limit} bytes (gateway.max_body_bytes)"),
        ),
        ApiError::RequestTimeout { ms } => GatewayError::new(
            Code::RequestTimeout,
            format!("the request body did not arrive within {ms} ms"),
        ),
        other => GatewayError::new(Code::InvalidBody, other.to_string()),
    };
    (error, Chosen::default())
}

/// A 405 in `format`'s shape, with the `Allow` header RFC 9110 requires.
fn not_allowed(format: Format, allow: &'static str) -> HttpResponse {
    let error = GatewayError::new(
        Code::MethodNotAllowed,
        format!("this route takes {allow} only"),
    );
    let mut response = refusal(format, &error, &Chosen::default());
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Names what the call chose. The request id is the front middleware's to write.
fn tag(response: &mut actix_web::HttpResponseBuilder, chosen: &Chosen) {
    const ATTEMPTS_NAME: HeaderName = HeaderName::from_static(ATTEMPTS);
    const FALLBACKS_NAME: HeaderName = HeaderName::from_static(FALLBACKS);
    const PROVIDER_NAME: HeaderName = HeaderName::from_static(PROVIDER);
    const MODEL_NAME: HeaderName = HeaderName::from_static(MODEL);
    response.insert_header((ATTEMPTS_NAME, chosen.attempts));
    response.insert_header((FALLBACKS_NAME, chosen.fallbacks));
    for (name, value) in [
        (PROVIDER_NAME, &chosen.provider),
        (MODEL_NAME, &chosen.model),
    ] {
        if let Some(value) = value
            && let Ok(value) = HeaderValue::from_str(value)
        {
            response.insert_header((name, value));
        }
    }
}

/// An error answer in `format`'s shape.
fn refusal(format: Format, error: &GatewayError, chosen: &Chosen) -> HttpResponse {
    let status = StatusCode::from_u16(error.kind().status()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = HttpResponse::build(status);
    tag(&mut response, chosen);
    if error.kind() == Kind::Unauthenticated {
        response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"modelgate\""));
    }
    if let Some(wait) = error.retry_after {
        // Whole seconds, rounded up: a client that waits as told finds the wait over.
        response.insert_header((header::RETRY_AFTER, wait.as_millis().div_ceil(1000) as u64));
        response.insert_header(("retry-after-ms", wait.as_millis() as u64));
    }
    response.json(wire::error_body(format, error))
}

/// The format a request without a route of its own speaks: Anthropic's when it says so.
fn format_of(req: &HttpRequest) -> Format {
    match req.headers().contains_key("anthropic-version") {
        true => Format::Anthropic,
        false => Format::OpenAi,
    }
}

async fn no_route(req: HttpRequest) -> HttpResponse {
    let error = GatewayError::new(
        Code::UnknownRoute,
        format!(
            "no data-plane route {} {}; the routes are /v1/chat/completions, /v1/completions, \
             /v1/responses, /v1/embeddings, /v1/models, /v1/models/{{model}}, /v1/messages and \
             /v1/messages/count_tokens",
            req.method(),
            super::truncated(req.path(), 200)
        ),
    );
    refusal(format_of(&req), &error, &Chosen::default())
}
