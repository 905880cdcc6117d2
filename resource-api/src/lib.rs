//! `resource-api`: a protected service that trusts the issuer's tokens.
//!
//! It is the template other teams copy: every protected route takes a
//! [`jwks_client::actix::Bearer`] argument and states the scope or role it
//! needs; token parsing, key fetching and RFC 6750 answers all come from
//! `jwks-client`. The service never calls the issuer per request.
//!
//! # Layout
//!
//! - [`config`]: `RESOURCE_*` environment variables into [`Settings`].
//! - [`startup`]: builds the verifier and the HTTP server ([`Application`]).
//! - [`routes`]: one module per resource.
//! - [`metrics`]: Prometheus counters for HTTP and for the key cache.

pub mod config;
pub mod metrics;
pub mod routes;
pub mod startup;

pub use config::Settings;
pub use startup::Application;
