//! The gateway's words for an attempt that got no answer it could pass on: a full queue, a
//! refused address, no usable key, a status that is no answer, no answer in time, no
//! connection. Each names the provider, never a key; what is logged says more than what is told.

use std::time::Duration;

use super::super::error::{Code, GatewayError};
use super::super::policy;
use super::super::table::Route;
use super::outbound::Refused;
use super::scrub::Scrub;

pub(super) fn busy(route: &Route) -> GatewayError {
    let mut e = GatewayError::new(
        Code::ProviderBusy,
        format!(
            "provider `{}` has as many calls in flight and waiting as its concurrency and \
             bufferSize allow; retry shortly",
            route.slug
        ),
    );
    e.retry_after = Some(policy::BUSY_RETRY_AFTER);
    e
}

pub(super) fn forbidden(
    route: &Route,
    refused: &Refused,
    request_id: &str,
    attempt: u32,
) -> GatewayError {
    log::warn!(request_id, attempt; "a call to provider `{}` was refused: {refused}", route.slug);
    GatewayError::new(
        Code::OutboundRefused,
        format!("provider `{}` may not be called: {refused}", route.slug),
    )
}

pub(super) fn no_key(slug: &str) -> GatewayError {
    GatewayError::new(
        Code::NoUsableKey,
        format!("provider `{slug}` has no provider key; add one under /provider-keys"),
    )
}

pub(super) fn unusable_key(slug: &str) -> GatewayError {
    GatewayError::new(
        Code::NoUsableKey,
        format!(
            "provider `{slug}` has no provider key that can be used now (an env.NAME key needs \
             its variable set in modelgate's environment)"
        ),
    )
}

pub(super) fn invalid(route: &Route, status: u16, request_id: &str, attempt: u32) -> GatewayError {
    log::warn!(
        request_id, attempt;
        "provider `{}` answered status {status}, which is no final HTTP answer", route.slug
    );
    GatewayError::new(
        Code::UpstreamInvalid,
        format!(
            "provider `{}` answered with status {status}, which is not a final HTTP answer \
             (200-599)",
            route.slug
        ),
    )
}

pub(super) fn timed_out(route: &Route, budget: Duration) -> GatewayError {
    GatewayError::new(
        Code::UpstreamTimeout,
        format!(
            "provider `{}` did not answer within {} s",
            route.slug,
            budget.as_secs_f64()
        ),
    )
}

pub(super) fn unreachable(
    route: &Route,
    error: reqwest::Error,
    scrub: &Scrub,
    request_id: &str,
    attempt: u32,
) -> GatewayError {
    let (logged, told) = scrub.described(error);
    log::warn!(request_id, attempt; "provider `{}` unreachable {logged}", route.slug);
    GatewayError::new(
        Code::UpstreamUnreachable,
        format!("provider `{}` could not be reached: {told}", route.slug),
    )
}
