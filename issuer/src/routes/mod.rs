//! HTTP handlers, one file per area.

pub mod admin;
pub mod discovery;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod revoke;
pub mod token;
