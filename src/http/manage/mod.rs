//! The management API, one module per resource, each with its own `configure`.

pub(super) mod access_key_configurations;
pub(super) mod access_keys;
pub(super) mod api_keys;
pub(super) mod discovery;
pub(super) mod gateway_config;
pub(super) mod health;
pub(super) mod model_aliases;
pub(super) mod probes;
pub(super) mod provider_health;
pub(super) mod provider_keys;
pub(super) mod providers;
mod routers;
pub(super) mod usage;

use actix_web::web;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    providers::configure(cfg);
    provider_keys::configure(cfg);
    api_keys::configure(cfg);
    access_keys::configure(cfg);
    access_key_configurations::configure(cfg);
    gateway_config::configure(cfg);
    health::configure(cfg);
    usage::configure(cfg);
    model_aliases::configure(cfg);
}
