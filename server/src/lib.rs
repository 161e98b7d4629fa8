//! The Mast server: settings, start-up, routes and security middleware around the `app` crate.
#![deny(clippy::unwrap_used, clippy::await_holding_lock)]

pub mod body;
pub mod connections;
pub mod documents;
pub mod exports;
pub mod gateway;
pub mod nul_guard;
pub mod openapi;
pub mod operations;
pub mod request_log;
pub mod rpc_status;
pub mod run_to_end;
pub mod security;
pub mod seed;
pub mod settings;
pub mod startup;
pub mod try_it;
