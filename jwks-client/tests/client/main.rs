//! Integration tests for jwks-client against real local HTTP servers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_tokens;
mod cache;
#[cfg(feature = "actix")]
mod extractor;
mod local;
mod rfc7515;
mod support;
