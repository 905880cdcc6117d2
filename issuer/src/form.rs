//! Strict `application/x-www-form-urlencoded` parsing: [`shared::form`],
//! which lives in the `shared` crate so that it is fuzzed without building
//! the issuer (see `fuzz/`).

pub use shared::form::*;
