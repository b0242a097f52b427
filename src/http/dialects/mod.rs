//! The other products' APIs over the same registry: Bifrost's `/api/providers` and
//! AgentStack's `/api/v1/model_providers`. Each dialect translates its bodies into the ngrok
//! API's, so the registry's one set of rules judges every write, keeps what ngrok's shape
//! cannot say in the provider's extension (`domain::extension`), and answers in its product's
//! shapes, errors included.

pub mod agentstack;
pub mod bifrost;

use std::collections::BTreeMap;

use actix_web::ResponseError;
use actix_web::http::StatusCode;
use actix_web::web;

use super::error::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    bifrost::configure(cfg);
    agentstack::configure(cfg);
}

/// An error of the ngrok API told in another dialect: its status and one line that names
/// every field at fault, by the dialect's names (`path`).
pub(crate) struct Problem {
    pub status: StatusCode,
    pub message: String,
}

impl Problem {
    pub fn of(error: &ApiError, path: impl Fn(&str) -> String) -> Problem {
        Problem {
            status: error.status_code(),
            message: with_details(error.to_string(), &error.details(), path),
        }
    }
}

/// `message`, then each `field: rule`.
pub(crate) fn with_details(
    message: String,
    details: &BTreeMap<String, String>,
    path: impl Fn(&str) -> String,
) -> String {
    if details.is_empty() {
        return message;
    }
    let listed: Vec<String> = details
        .iter()
        .map(|(field, rule)| format!("{}: {rule}", path(field)))
        .collect();
    format!("{message} ({})", listed.join("; "))
}
