//! Tracing set-up shared by every binary.
//!
//! `RUST_LOG` filters (default `info`); a log format of `json` switches to
//! one JSON object per line for log shippers. The format is read in one
//! place, [`log_json`]: the service's own variable (`ISSUER_LOG_FORMAT`,
//! `RESOURCE_LOG_FORMAT`) first, then `LOG_FORMAT`.

use tracing_subscriber::EnvFilter;

use crate::config::{ConfigError, EnvReader};

/// The variable every service falls back to.
pub const LOG_FORMAT: &str = "LOG_FORMAT";

/// Installs the global subscriber once; later calls are no-ops, so tests can
/// call it freely.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // An error only means a subscriber is already installed.
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
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
