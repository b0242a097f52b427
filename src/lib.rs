//! modelgate: a self-hosted AI gateway in one binary. It keeps a registry of LLM providers and
//! their keys in an embedded store, managed through an API that follows ngrok's AI Gateway
//! (`/providers`, `/provider-keys`, `/api-keys`) and an embedded admin page; and it serves a
//! data plane under `/v1` that routes OpenAI- and Anthropic-format model calls to those
//! providers, failing over between keys, providers and fallback models. `docs/architecture.md`
//! is the map of its rooms.

pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod files;
pub mod gateway;
pub mod http;
pub mod logging;
pub mod master_key;
pub mod metrics;
pub mod registry;
pub mod secrets;
pub mod startup;
pub mod store;
