//! The small kit every binary of the workspace uses (the issuer,
//! resource-api and jwtctl, and the test kit that starts them): how a
//! process reads its configuration, sets up tracing and answers its
//! container health check, and, for the actix-web services, the middleware
//! they share.
//!
//! None of it crosses the wire between the issuer and its resource services;
//! that is the `shared` crate.
//!
//! # Layout
//!
//! - [`config`]: typed environment configuration ([`config::EnvReader`],
//!   [`config::Secret`], the one duration parser
//!   [`config::parse_duration`], the one boolean dialect
//!   [`config::parse_bool`]) with errors that name the variable
//!   ([`config::ConfigError`]).
//! - [`telemetry`]: tracing set-up and the log-format setting.
//! - [`access_log`]: one line per HTTP request, formatted and written by a
//!   thread of its own from a bounded queue.
//! - [`healthcheck`]: the `healthcheck` subcommand's probe of `/readyz`.
//! - [`time`]: times for people (RFC 3339 UTC and `in 4 min` / `3 h ago`).
//! - `request_id` (feature `actix`): request-id middleware, root span and
//!   the access-log event.
//! - `http_metrics` (feature `actix`): Prometheus counters for every response.
//! - `fallback` (feature `actix`): JSON 404 for unknown paths and 405 with
//!   `Allow` for other methods on known ones.

pub mod access_log;
pub mod config;
#[cfg(feature = "actix")]
pub mod fallback;
pub mod healthcheck;
#[cfg(feature = "actix")]
pub mod http_metrics;
#[cfg(feature = "actix")]
pub mod request_id;
pub mod telemetry;
pub mod time;
