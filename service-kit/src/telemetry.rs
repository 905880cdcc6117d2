//! Tracing set-up shared by every binary.
//!
//! `RUST_LOG` filters (default `info`); a log format of `json` switches to
//! one JSON object per line for log shippers. The format is read in one
//! place, [`log_json`]: the service's own variable (`ISSUER_LOG_FORMAT`,
//! `RESOURCE_LOG_FORMAT`) first, then `LOG_FORMAT`. The access log has a
//! writer of its own: [`crate::access_log`].

use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::access_log::{self, AccessLog};
use crate::config::{ConfigError, EnvReader};

/// The variable every service falls back to.
pub const LOG_FORMAT: &str = "LOG_FORMAT";

/// Installs the global subscriber once; later calls are no-ops, so tests can
/// call it freely. Log lines go to stderr, the access log
/// ([`crate::access_log`], target `access`) through its writer thread.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Access-log events are written by their own layer, not as fmt lines.
    let not_access = || filter_fn(|meta| meta.target() != access_log::TARGET);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if json {
        fmt.json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(not_access())
            .boxed()
    } else {
        fmt.with_filter(not_access()).boxed()
    };
    let access = AccessLog::global(json).map(AccessLog::layer);
    // An error only means a subscriber is already installed.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(access)
        .try_init();
}

/// Writes out the access-log lines still queued (at most `timeout`): call
/// once when the service stops.
pub fn flush(timeout: Duration) {
    access_log::flush(timeout);
}

/// Whether the logs are to be JSON: `service_var` (such as
/// `ISSUER_LOG_FORMAT`) when set, else `LOG_FORMAT`. `json` or `text`
/// (also `pretty`), in any case; unset is text; anything else is an error
/// naming the variable that held it.
pub fn log_json(env: &EnvReader, service_var: &str) -> Result<bool, ConfigError> {
    let (var, value) = match env.optional(service_var) {
        Some(v) => (service_var, v),
        None => match env.optional(LOG_FORMAT) {
            Some(v) => (LOG_FORMAT, v),
            None => return Ok(false),
        },
    };
    if value.eq_ignore_ascii_case("json") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("text") || value.eq_ignore_ascii_case("pretty") {
        Ok(false)
    } else {
        Err(ConfigError::new(var, "expected json or text"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<bool, ConfigError> {
        log_json(&EnvReader::from_map(vars.to_vec()), "SVC_LOG_FORMAT")
    }

    #[test]
    fn the_service_variable_comes_first() {
        assert_eq!(read(&[]), Ok(false));
        assert_eq!(read(&[("LOG_FORMAT", "json")]), Ok(true));
        assert_eq!(read(&[("LOG_FORMAT", "JSON")]), Ok(true));
        assert_eq!(read(&[("SVC_LOG_FORMAT", "json")]), Ok(true));
        assert_eq!(
            read(&[("SVC_LOG_FORMAT", "text"), ("LOG_FORMAT", "json")]),
            Ok(false)
        );
        assert_eq!(
            read(&[("SVC_LOG_FORMAT", "json"), ("LOG_FORMAT", "text")]),
            Ok(true)
        );
        assert_eq!(read(&[("LOG_FORMAT", "pretty")]), Ok(false));
    }

    #[test]
    fn a_bad_format_names_the_variable_that_held_it() {
        let var = |vars: &[(&str, &str)]| read(vars).err().map(|e| e.var);
        assert_eq!(var(&[("LOG_FORMAT", "xml")]), Some("LOG_FORMAT".to_owned()));
        assert_eq!(
            var(&[("SVC_LOG_FORMAT", "xml"), ("LOG_FORMAT", "json")]),
            Some("SVC_LOG_FORMAT".to_owned())
        );
    }
}
