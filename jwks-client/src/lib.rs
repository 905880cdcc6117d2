//! Verifies RS256 (and other RSA) access tokens locally against the public
//! keys their issuers publish as JWKS, fetched and cached so that the request
//! path never contacts an issuer.
//!
//! ```no_run
//! use jwks_client::{IssuerConfig, Verifier};
//!
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .issuer(IssuerConfig::new("https://id.example.com").audiences(["orders"]))
//!     .build()?;
//! let claims = verifier.verify(token).await?;
//! println!("{} may {}", claims.sub, claims.scope);
//! # Ok(()) }
//! ```
//!
//! With the `actix` feature, [`actix::Bearer`] is an extractor that does
//! this for a handler and answers failures as RFC 6750 prescribes.
//!
//! A process that holds the signing keys itself (the issuer, checking its
//! own tokens) gives the verifier a [`LocalKeys`] handle instead and
//! replaces its set whenever its keys change: same checks, no HTTP.
//!
//! ```
//! use jwks_client::{IssuerConfig, LocalKeys, Verifier};
//! use shared::jwk::Jwks;
//!
//! # async fn run(my_jwks: &Jwks, token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let keys = LocalKeys::new();
//! keys.replace(my_jwks); // again after every rotation
//! let verifier = Verifier::builder()
//!     .issuer(
//!         IssuerConfig::new("https://id.example.com")
//!             .audiences(["https://id.example.com"])
//!             .local_keys(keys.clone()),
//!     )
//!     .build()?;
//! let claims = verifier.verify(token).await?; // never fetches
//! # drop(claims); Ok(()) }
//! # let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
//! # let refused = rt.block_on(run(&Jwks::default(), "a.b.c"));
//! # assert!(refused.is_err());
//! ```
//!
//! # What it guarantees
//!
//! - **Keys**: one set per issuer, replaced whole on each refresh. Its
//!   lifetime is `Cache-Control: max-age` clamped to
//!   [`CacheSettings::min_ttl`]..[`CacheSettings::max_ttl`]; it is refreshed
//!   in the background (with jitter) before it ends, with `If-None-Match`.
//!   One fetch per issuer is in flight at a time, cold start included.
//! - **Local keys**: an issuer configured with [`IssuerConfig::local_keys`]
//!   is never fetched; its set is whatever its owner last installed with
//!   [`LocalKeys::replace`], and an unknown `kid` fails at once.
//! - **Unknown `kid`**: at most one forced refresh per
//!   [`CacheSettings::unknown_kid_cooldown`]; within it such tokens fail
//!   fast, and tokens with known keys are never delayed.
//! - **Outages**: the last good set keeps verifying for
//!   [`CacheSettings::max_stale`] (counted in `stale_serves`, logged at
//!   `warn`); with nothing cached, [`VerifyError::KeysUnavailable`].
//! - **HTTP**: one client, connect and total timeouts, no redirects, a body
//!   cap enforced while reading, HTTPS unless loopback or explicitly allowed.
//! - **Tokens**: the algorithm comes from the issuer's allow-list, never from
//!   the token; `crit`, `jku`, `x5u`, `jwk` and `x5c` are refused; base64url
//!   must be canonical; duplicate JSON members and wrong JSON types are
//!   refused; `iss` exact, `aud` required (and one of the configured
//!   audiences unless [`IssuerConfig::any_audience`]), `exp`/`nbf`/`iat` with a small
//!   leeway, `typ` `at+jwt` by default; tokens above 8 KiB are refused
//!   unread.
//!
//! # Layout
//!
//! - [`config`]: [`IssuerConfig`], [`CacheSettings`], [`HttpSettings`].
//! - `algorithm`: [`Algorithm`], the RSA algorithms by JOSE name.
//! - `verifier`: [`Verifier`] and [`VerifierBuilder`], the verification
//!   pipeline.
//! - `source`: where one issuer's keys come from, fetched or local.
//! - `cache`: the moka-backed key cache of fetched issuers: single-flight
//!   fetches, refresh-ahead, unknown-`kid` cooldown, stale serving.
//! - `local`: [`LocalKeys`], a set its owner holds in memory and replaces.
//! - `results`: the optional verification-result cache.
//! - `fetch`: the HTTP client, discovery, conditional requests, size cap.
//! - [`keys`]: JWKS members to [`keys::VerifyingKey`]s (aws-lc-rs parsed
//!   once), with the rules for skipping bad keys.
//! - `jws`: the hand-written compact JWS parser and [`Claims`].
//! - `policy`: per-issuer claim and header checks.
//! - [`error`]: [`VerifyError`] and [`BuildError`].
//! - [`metrics`]: counters ([`MetricsSnapshot`]) and [`IssuerHealth`].
//! - [`actix`] (feature `actix`): the [`actix::Bearer`] extractor and RFC 6750
//!   responses.
//!
//! The runnable example `examples/verify_token.rs` verifies a token against
//! an issuer given on the command line.

mod algorithm;
mod cache;
pub mod config;
pub mod error;
mod fetch;
mod jws;
pub mod keys;
mod local;
pub mod metrics;
mod policy;
mod results;
mod source;
mod verifier;

#[cfg(feature = "actix")]
pub mod actix;

pub use config::{Algorithm, CacheSettings, HttpSettings, IssuerConfig, RequiredClaim};
pub use error::{BuildError, VerifyError};
pub use jws::Claims;
pub use local::LocalKeys;
pub use metrics::{IssuerHealth, MetricsSnapshot};
pub use verifier::{Verifier, VerifierBuilder};

/// Verifies `token` with one known key and `policy`, without any key set:
/// every check of [`Verifier::verify`] except the `kid` lookup (the token
/// may or may not carry a `kid`). For pinned keys and tests.
///
/// The issuer of `policy` must match `iss` exactly; the key must allow the
/// token's algorithm.
pub fn verify_with_key(
    token: &str,
    key: &keys::VerifyingKey,
    policy: &IssuerConfig,
) -> Result<Claims, VerifyError> {
    if token.len() > config::DEFAULT_MAX_TOKEN_BYTES {
        return Err(VerifyError::TokenTooLarge);
    }
    let policy = policy::Policy::new(policy);
    let segments = jws::split(token)?;
    let header = jws::parse_header(segments.header)?;
    let raw = jws::parse_claims(segments.payload)?;
    policy.check_header(&header)?;
    jws::verify_signature(key, header.alg, &segments)?;
    policy.check_claims(raw, shared::now_unix())
}
