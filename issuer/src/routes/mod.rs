//! HTTP handlers, one file per area.

pub mod discovery;
pub mod health;
pub mod jwks;
pub mod token;
