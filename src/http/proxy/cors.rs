//! CORS for browser front ends that call the data plane with an access key. Only origins
//! listed in `gateway.cors_origins` are answered, each by its own name (never `*`, which
//! would let any page spend the key), and only on `/v1`: the management API never answers a
//! preflight, so no page can drive it from a browser.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

/// The headers a preflight always allows: the credential, the body's type and Anthropic's
/// version. Others a request asks for are allowed when they are the SDKs' own families.
const ALLOWED_HEADERS: [&str; 4] = [
    "authorization",
    "x-api-key",
    "content-type",
    "anthropic-version",
];
/// Families of headers the official SDKs send from a browser (`x-stainless-*` from both,
/// `anthropic-*` such as `anthropic-beta` and `anthropic-dangerous-direct-browser-access`,
/// `openai-*`) and modelgate's own request headers.
const ALLOWED_PREFIXES: [&str; 4] = ["x-stainless-", "anthropic-", "openai-", "x-modelgate-"];
/// What a page may read of an answer beyond the CORS-safelisted headers.
const EXPOSED: &str = "x-modelgate-request-id, x-modelgate-provider, x-modelgate-model, \
     x-modelgate-attempts, x-modelgate-fallbacks, x-modelgate-translation-dropped, \
     x-modelgate-estimate, retry-after, retry-after-ms";
/// How long a browser may keep a preflight's answer, in seconds.
const MAX_AGE: &str = "600";

/// The origins `gateway.cors_origins` names, as browsers send them (`scheme://host[:port]`,
/// lower case, without a default port); empty when CORS is off.
#[derive(Debug, Clone, Default)]
pub struct CorsOrigins(pub std::sync::Arc<[String]>);

/// Middleware on `/v1`: answers allowed origins' preflights and marks allowed origins' answers.
pub async fn handle(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let origins = req
        .app_data::<web::Data<CorsOrigins>>()
        .map(|o| o.0.clone())
        .unwrap_or_default();
    if origins.is_empty() {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let allowed = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| origins.iter().any(|allowed| allowed == o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (Some(origin), true) = (&allowed, preflight) {
        let answer = preflight_answer(origin, req.headers());
        return Ok(req.into_response(answer).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    // Whether the answer has CORS headers depends on Origin, so caches must key on it.
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    Ok(res.map_into_left_body())
}

fn preflight_answer(origin: &HeaderValue, request: &HeaderMap) -> HttpResponse {
    HttpResponse::build(StatusCode::NO_CONTENT)
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
        .insert_header((header::VARY, "Origin"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST, GET"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            allowed_headers(request),
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
        .finish()
}

/// The four named always, then each header the preflight asks for that belongs to a family
/// the SDKs use; anything else is left out, and the browser refuses to send it.
fn allowed_headers(request: &HeaderMap) -> String {
    let mut names: Vec<String> = ALLOWED_HEADERS.iter().map(|h| h.to_string()).collect();
    let asked = request
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase());
    for name in asked {
        let sdk_family = ALLOWED_PREFIXES.iter().any(|p| name.starts_with(p));
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if sdk_family && token && !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preflight_allows_the_four_and_the_sdk_families_only() {
        let mut asked = HeaderMap::new();
        asked.insert(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static("X-Stainless-OS, x-evil, anthropic-beta, content-type"),
        );
        assert_eq!(
            allowed_headers(&asked),
            "authorization, x-api-key, content-type, anthropic-version, x-stainless-os, anthropic-beta"
        );
    }
}
