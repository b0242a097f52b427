//! modelgate: a self-hosted AI gateway. This crate holds the provider registry server.

pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod files;
pub mod gateway;
pub mod http;
pub mod logging;
pub mod master_key;
pub mod registry;
pub mod secrets;
pub mod startup;
pub mod store;
