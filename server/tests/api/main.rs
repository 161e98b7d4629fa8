//! Integration tests: the real server over HTTP, on SQLite and on PostgreSQL.
//! Tests are named after what a user notices or after the ASVS item they prove.

mod authenticator;
mod support;

mod admin;
mod attacks;
mod contact;
mod crash;
mod deprecations;
mod gateway;
mod headers;
mod hostile;
mod keys;
mod openapi;
mod operations;
mod passkeys;
mod passwords;
mod privacy;
mod products;
mod properties;
mod proxies;
mod retention;
mod robustness;
mod scale_out;
mod scopes;
mod sessions;
mod sign_up;
mod try_it;
mod usage;
mod verification;
