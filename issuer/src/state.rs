//! The application state shared by every worker: the services the handlers
//! and the domain rules work with, built once by [`crate::startup`].

use std::sync::Arc;

use actix_web::web::Bytes;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::Services;
use crate::lifecycle::KeyManager;
use crate::metrics::Metrics;
use crate::password::Passwords;
use crate::store::Store;
use crate::throttle::LoginThrottle;

/// Everything a handler needs, shared by all workers.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    /// The signing keys: the served key set and every change to it.
    pub keys: Arc<KeyManager>,
    /// Judges access tokens for `/oauth2/introspect`: jwks-client over this
    /// instance's own published keys, any audience.
    pub introspection: jwks_client::Verifier,
    pub passwords: Passwords,
    pub throttle: LoginThrottle,
    pub metrics: Metrics,
    /// The clock of the refresh-token and login-throttle rules.
    pub clock: Clock,
    /// The discovery document, serialised once.
    pub discovery: Bytes,
    /// The configuration the service was built from.
    pub config: Config,
}

impl AppState {
    /// The services the domain rules work with.
    pub fn services(&self) -> Services<'_> {
        Services {
            store: &self.store,
            keys: &self.keys,
            passwords: &self.passwords,
            throttle: &self.throttle,
            metrics: &self.metrics,
            clock: &self.clock,
            config: &self.config,
        }
    }
}
