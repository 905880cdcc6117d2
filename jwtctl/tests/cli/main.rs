//! jwtctl end to end: the binary against hand-made tokens and against a real
//! issuer and resource services on loopback port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod drill;
mod helpers;
mod inspect;
mod live;
