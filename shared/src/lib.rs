//! Wire types the issuer and every resource service agree on.
//!
//! # Layout
//!
//! - [`admin`]: the issuer's `/admin/keys` API bodies.
//! - [`jwk`]: JWK / JWKS serde types and the RFC 7638 thumbprint used as `kid`.
//! - [`claims`]: the access-token claim set (RFC 9068 profile).
//! - [`oauth`]: RFC 6749 token responses and error bodies, RFC 6750 challenges.
//! - [`config`]: typed environment configuration with errors that name the variable.
//! - [`telemetry`]: tracing set-up shared by every binary.
//! - [`healthcheck`]: the `healthcheck` subcommand's probe of `/readyz`.
//! - `request_id` (feature `actix`): request-id middleware and root span.
//! - `http_metrics` (feature `actix`): Prometheus counters for every response.
//!
//! Nothing here knows about business logic; it only fixes what crosses the wire.

pub mod admin;
pub mod b64;
pub mod claims;
pub mod config;
pub mod healthcheck;
#[cfg(feature = "actix")]
pub mod http_metrics;
pub mod jwk;
pub mod oauth;
#[cfg(feature = "actix")]
pub mod request_id;
pub mod telemetry;

/// Seconds since the Unix epoch, by this machine's clock.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
