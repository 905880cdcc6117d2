//! End-to-end tests: a real issuer and real resource-api instances on port 0,
//! spoken to over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adversarial;
mod e2e;
mod healthcheck;
mod helpers;
mod parity;
mod rotation;
