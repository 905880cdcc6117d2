//! HTTP only: one handler file per area, the request extractors
//! ([`extract`]), client authentication from a request ([`client_auth`]),
//! the refresh cookie ([`cookie`]) and the RFC 6749 error answers
//! ([`error`]). The rules live in [`crate::domain`] and
//! [`crate::lifecycle`].

pub mod admin;
pub mod client_auth;
pub mod cookie;
pub mod discovery;
pub mod error;
pub mod extract;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod revoke;
pub mod token;
