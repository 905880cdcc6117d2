//! The issuer's rules, free of HTTP: client authentication ([`clients`]),
//! what a grant may put in a token ([`grants`]), signing the access token
//! ([`issuance`]), refresh-token rotation ([`refresh`]) and user accounts
//! ([`users`]). Every function returns a domain error; `crate::routes`
//! maps them to RFC 6749 answers. Audit events go through
//! [`crate::audit`].

pub mod clients;
pub mod grants;
pub mod issuance;
pub mod refresh;
pub mod users;

use std::time::Duration;

use crate::clock::Clock;
use crate::config::Config;
use crate::lifecycle::KeyManager;
use crate::metrics::Metrics;
use crate::password::Passwords;
use crate::store::{Store, StoreError};
use crate::throttle::LoginThrottle;

/// The services the grant rules work with, borrowed from the application
/// state.
#[derive(Debug, Clone, Copy)]
pub struct Services<'a> {
    pub store: &'a Store,
    pub keys: &'a KeyManager,
    pub passwords: &'a Passwords,
    pub throttle: &'a LoginThrottle,
    pub metrics: &'a Metrics,
    pub clock: &'a Clock,
    pub config: &'a Config,
}

/// Why a grant was refused. The texts are fixed and safe to show; an
/// internal cause is carried only to be logged.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// A required parameter is missing or unusable.
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// Wrong password, unknown user, unusable refresh token: one answer.
    #[error("invalid grant")]
    InvalidGrant,
    #[error("{0}")]
    UnauthorizedClient(&'static str),
    #[error("{0}")]
    InvalidScope(&'static str),
    /// Too many failed logins; retry after the duration.
    #[error("too many failed logins")]
    Throttled(Duration),
    /// The login throttle's counters cannot be read or written: fail closed.
    #[error("login throttle unavailable")]
    ThrottleUnavailable,
    /// Every password-check worker is taken and the queue is full, or the
    /// wait for one timed out.
    #[error("password checks saturated")]
    PasswordsBusy,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Randomness, signing or sealing failed.
    #[error("{what}: {cause}")]
    Internal { what: &'static str, cause: String },
}

impl GrantError {
    pub(crate) fn internal(what: &'static str, cause: &dyn std::fmt::Display) -> Self {
        GrantError::Internal {
            what,
            cause: cause.to_string(),
        }
    }
}

/// Milliseconds, saturating.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
