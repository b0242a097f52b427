//! modelgate: a self-hosted AI gateway. This crate holds the provider registry server.

pub mod admin;
pub mod auth;
pub mod body;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod master_key;
pub mod routes;
pub mod secrets;
pub mod startup;
pub mod store;
