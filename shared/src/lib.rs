//! Wire types the issuer and every resource service agree on (what crosses
//! the network between them), and the strict parsers of what HTTP clients
//! send the issuer (form bodies, Basic credentials, cookies), kept here,
//! free of any framework, so that they can be fuzzed on their own.
//!
//! # Layout
//!
//! - [`admin`]: the issuer's `/admin/keys` API bodies.
//! - [`b64`]: base64url without padding (RFC 7515), strict on decode, for JWS
//!   segments and JWK members.
//! - [`basic`]: HTTP Basic client credentials (RFC 6749 section 2.3.1).
//! - [`cookie`]: one cookie from `Cookie` request headers.
//! - [`form`]: strict `application/x-www-form-urlencoded` bodies.
//! - [`jwk`]: JWK / JWKS serde types and the RFC 7638 thumbprint used as `kid`.
//! - [`claims`]: the access-token claim set (RFC 9068 profile).
//! - [`oauth`]: RFC 6749 token responses and error bodies, RFC 6750 challenges.
//! - [`now_unix`]: the clock that `iat`, `nbf` and `exp` are measured by.
//!
//! Nothing here knows about business logic, HTTP frameworks or process
//! set-up; configuration, tracing, the health probe and the HTTP middleware
//! are in the `service-kit` crate.

pub mod admin;
pub mod b64;
pub mod basic;
pub mod claims;
pub mod cookie;
pub mod form;
pub mod jwk;
pub mod oauth;

/// Seconds since the Unix epoch, by this machine's clock.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
