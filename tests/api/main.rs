//! HTTP behaviour of the server, through `spawn_app()`: one binary, one module per area.

mod admin;
mod api_keys;
mod auth;
mod create;
mod delete;
mod errors;
mod failover;
#[path = "../support/fixture.rs"]
mod fixture;
mod gateway;
mod hardening;
mod health;
mod helpers;
mod json_schema;
mod list;
mod openapi;
mod openapi_dataplane;
mod persistence;
mod provider_keys;
mod read;
mod resilience;
mod schema;
mod settings;
mod update;
mod upstream;
mod validation;
