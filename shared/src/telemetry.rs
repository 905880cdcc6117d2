//! Tracing set-up shared by every binary.
//!
//! `RUST_LOG` filters (default `info`); `LOG_FORMAT=json` switches to one JSON
//! object per line for log shippers.

use tracing_subscriber::EnvFilter;

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

/// Whether `LOG_FORMAT` asks for JSON output.
pub fn json_requested() -> bool {
    std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
}
