//! HTTP behaviour of the server, through `spawn_app()`: one binary, one module per area.

mod abandoned;
mod admin;
mod api_keys;
mod auth;
mod cors;
mod create;
mod delete;
mod errors;
mod failover;
#[path = "../support/fixture.rs"]
mod fixture;
mod gateway;
mod guard;
mod hardening;
mod health;
mod helpers;
mod json_schema;
mod list;
mod models;
mod openapi;
mod openapi_dataplane;
mod persistence;
mod provider_keys;
mod raw;
mod read;
mod request_ids;
mod resilience;
mod same_failure;
mod schema;
mod scrub;
mod settings;
mod streams;
mod time_limits;
mod update;
mod upstream;
mod validation;
