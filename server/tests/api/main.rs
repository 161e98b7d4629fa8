//! Integration tests: the real server over HTTP, on SQLite and on PostgreSQL.
//! Tests are named after what a user notices or after the ASVS item they prove.

mod authenticator;
mod support;

mod admin;
mod contact;
mod gateway;
mod headers;
mod keys;
mod passkeys;
mod passwords;
mod privacy;
mod proxies;
mod retention;
mod robustness;
mod sessions;
mod sign_up;
mod usage;
mod verification;
