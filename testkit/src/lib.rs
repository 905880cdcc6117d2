//! The workspace's one test kit: real services on loopback port 0 with
//! standard fixtures, tokens from them, and hand-forged hostile tokens.
//! Used only as a dev-dependency (and by the issuer's load examples); a
//! failed set-up panics, as a failed test should.
//!
//! # Layout
//!
//! - [`forge`]: RSA test keys, raw JWS signing and the table of hostile
//!   tokens (`alg: none`, HS256 keyed with the public key, `crit`,
//!   `jku`/`x5u`/`jwk`/`x5c`, duplicate members, non-canonical base64,
//!   huge, …). No issuer dependency: jwks-client's tests use only this.
//! - `db` (feature `issuer`): which database a test issuer gets — SQLite
//!   in its directory, or PostgreSQL when `ISSUER_TEST_DATABASE_URL` names
//!   a server — and `db::postgres_url` for PostgreSQL-only tests.
//! - `fixtures` (feature `issuer`): users and clients as data, the sets
//!   the suites share, and seeding a store with them.
//! - `app` (feature `issuer`): `app::TestApp`, an in-process issuer on
//!   port 0, with helpers to get and refresh tokens.
//! - `oauth` (feature `issuer`): independent token verification against a
//!   served JWKS, `kid` helpers, the RFC 6749 error-response check.
//! - `services` (feature `issuer`): the issuer as the resource-api and
//!   jwtctl suites use it (clients `cli` and `ops`, users `alice`, `bob`).
//! - `resource` (feature `resource`): a resource-api service on port 0,
//!   waited on until `/readyz` answers.
//! - `internals` (feature `issuer`): every issuer-internal path a test
//!   uses (store rows, hashing, key states, configuration), in one place.
//!
//! Features: `issuer` and `resource`, both off by default.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod forge;

#[cfg(feature = "issuer")]
pub mod app;
#[cfg(feature = "issuer")]
pub mod db;
#[cfg(feature = "issuer")]
pub mod fixtures;
#[cfg(feature = "issuer")]
pub mod internals;
#[cfg(feature = "issuer")]
pub mod oauth;
#[cfg(feature = "resource")]
pub mod resource;
#[cfg(feature = "issuer")]
pub mod services;

#[cfg(feature = "issuer")]
pub use app::{
    KEK, TestApp, spawn_app, spawn_app_with, spawn_app_with_clock, spawn_with, spawn_with_clock,
    test_config,
};
#[cfg(feature = "issuer")]
pub use db::{ensure_database, postgres_url, test_database_url};
#[cfg(feature = "issuer")]
pub use oauth::{expect_oauth_error, kid_of, kids, verify_with_jwks};

/// An HTTP client with a bounded (20 s) timeout that follows no redirects.
#[cfg(any(feature = "issuer", feature = "resource"))]
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
