//! Integration tests: the real issuer on port 0 with a temporary SQLite
//! database, spoken to over HTTP; tokens verified independently with
//! jsonwebtoken.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod bootstrap;
mod cli;
mod cli_keys;
mod concurrency;
mod discovery;
mod helpers;
mod jwks;
mod lifecycle;
mod memory;
mod outage;
mod procs;
mod refresh;
mod restart;
mod revoke;
mod rotation;
mod scaleout;
mod throttle_shared;
mod token;
mod token_errors;
