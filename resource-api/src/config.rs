//! Configuration from `RESOURCE_*` environment variables.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `RESOURCE_LISTEN` | `127.0.0.1:8081` | address:port to listen on |
//! | `RESOURCE_SERVICE_NAME` | `resource-api` | name in logs and the `WWW-Authenticate` realm |
//! | `RESOURCE_ISSUER_URL` | unset | the trusted issuer (`iss`); unset leaves the service up but not ready |
//! | `RESOURCE_AUDIENCE` | the service name | the `aud` this service accepts |
//! | `RESOURCE_JWKS_URL` | from discovery | explicit JWKS URL, skipping discovery |
//! | `RESOURCE_ALLOW_INSECURE_HTTP` | `false` | allow plain HTTP to a non-loopback issuer (private networks) |
//! | `RESOURCE_JWKS_MIN_TTL` | `5m` | lower clamp on the JWKS `max-age` |
//! | `RESOURCE_JWKS_MAX_TTL` | `24h` | upper clamp on the JWKS `max-age` |
//! | `RESOURCE_JWKS_COOLDOWN` | `30s` | at most one forced refresh per this, for unknown `kid`s |
//! | `RESOURCE_JWKS_MAX_STALE` | `24h` | how long to keep serving the last good key set when the issuer is down |
//! | `RESOURCE_LEEWAY` | `30s` | clock-skew allowance for `exp` and `nbf`, at most 60s |
//! | `RESOURCE_RESULT_CACHE` | `20000` | verified-token cache entries, about 1 KiB each (estimate; 0 = off); see [`DEFAULT_RESULT_CACHE`] |
//! | `RESOURCE_MAX_ITEMS` | `1000` | items kept in memory; the oldest go first |
//! | `RESOURCE_LOG_FORMAT`, else `LOG_FORMAT` | `text` | `json` for one JSON object per log line |
//!
//! Booleans take `true/false`, `1/0`, `yes/no` or `on/off`; durations a
//! number of seconds or a unit (`500ms`, `30s`, `10m`, `1h`, `14d`).

use std::net::SocketAddr;
use std::time::Duration;

use service_kit::config::{ConfigError, EnvReader};

/// Verified tokens kept by default. An entry is the token's SHA-256, its
/// claims and moka's bookkeeping: estimated at about 1 KiB, so about 20 MiB
/// for a full cache, whatever the number of distinct tokens (the peak RSS
/// after 100,000 distinct tokens is what `scripts/bench-resource.sh`
/// measures; the budget is 64 MiB). A hit skips the signature check, the
/// most expensive step by far; entries never outlive their token's `exp`
/// and go when their key leaves the issuer's set.
pub const DEFAULT_RESULT_CACHE: u64 = 20_000;

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub service_name: String,
    pub issuer_url: Option<String>,
    pub audience: String,
    pub jwks_url: Option<String>,
    pub allow_insecure_http: bool,
    pub jwks_min_ttl: Duration,
    pub jwks_max_ttl: Duration,
    pub jwks_cooldown: Duration,
    pub jwks_max_stale: Duration,
    pub leeway: Duration,
    pub result_cache: u64,
    pub max_items: usize,
    pub log_json: bool,
}

impl Settings {
    /// Defaults for a service that trusts `issuer_url`, listening on an
    /// ephemeral loopback port: what tests start from.
    pub fn for_issuer(issuer_url: &str, audience: &str) -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            service_name: audience.to_owned(),
            issuer_url: Some(issuer_url.to_owned()),
            audience: audience.to_owned(),
            jwks_url: None,
            allow_insecure_http: false,
            jwks_min_ttl: Duration::from_secs(300),
            jwks_max_ttl: Duration::from_secs(86_400),
            jwks_cooldown: Duration::from_secs(30),
            jwks_max_stale: Duration::from_secs(86_400),
            leeway: Duration::from_secs(30),
            result_cache: DEFAULT_RESULT_CACHE,
            max_items: 1000,
            log_json: false,
        }
    }

    pub fn from_env(env: &EnvReader) -> Result<Self, ConfigError> {
        let service_name = env.string("RESOURCE_SERVICE_NAME", "resource-api");
        let secs = Duration::from_secs;
        let any = (Duration::ZERO, secs(30 * 86_400));
        Ok(Settings {
            listen: env.parse(
                "RESOURCE_LISTEN",
                SocketAddr::from(([127, 0, 0, 1], 8081)),
                "an address:port such as 0.0.0.0:8081",
            )?,
            issuer_url: env.optional("RESOURCE_ISSUER_URL"),
            audience: env.string("RESOURCE_AUDIENCE", &service_name),
            jwks_url: env.optional("RESOURCE_JWKS_URL"),
            allow_insecure_http: env.bool("RESOURCE_ALLOW_INSECURE_HTTP", false)?,
            jwks_min_ttl: env.duration("RESOURCE_JWKS_MIN_TTL", secs(300), any.0, any.1)?,
            jwks_max_ttl: env.duration("RESOURCE_JWKS_MAX_TTL", secs(86_400), any.0, any.1)?,
            jwks_cooldown: env.duration("RESOURCE_JWKS_COOLDOWN", secs(30), any.0, secs(3600))?,
            jwks_max_stale: env.duration("RESOURCE_JWKS_MAX_STALE", secs(86_400), any.0, any.1)?,
            leeway: env.duration("RESOURCE_LEEWAY", secs(30), any.0, secs(60))?,
            result_cache: env.parse(
                "RESOURCE_RESULT_CACHE",
                DEFAULT_RESULT_CACHE,
                "a number of entries (0 = off)",
            )?,
            max_items: env.parse("RESOURCE_MAX_ITEMS", 1000, "a number of items")?,
            log_json: service_kit::telemetry::log_json(env, "RESOURCE_LOG_FORMAT")?,
            service_name,
        })
        .and_then(Settings::checked)
    }

    fn checked(self) -> Result<Self, ConfigError> {
        if self.jwks_min_ttl > self.jwks_max_ttl {
            return Err(ConfigError::new(
                "RESOURCE_JWKS_MIN_TTL",
                "must not exceed RESOURCE_JWKS_MAX_TTL",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_configuration() {
        let s = Settings::from_env(&EnvReader::from_map::<&str, &str>([]));
        let s = s.ok();
        assert_eq!(
            s.as_ref().map(|s| s.audience.as_str()),
            Some("resource-api")
        );
        assert_eq!(
            s.as_ref().map(|s| s.result_cache),
            Some(DEFAULT_RESULT_CACHE)
        );
        assert_eq!(s.and_then(|s| s.issuer_url), None);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let env = EnvReader::from_map([("RESOURCE_LISTEN", "everywhere")]);
        assert_eq!(
            Settings::from_env(&env).err().map(|e| e.var),
            Some("RESOURCE_LISTEN".to_owned())
        );
        let env = EnvReader::from_map([
            ("RESOURCE_JWKS_MIN_TTL", "2h"),
            ("RESOURCE_JWKS_MAX_TTL", "1h"),
        ]);
        assert_eq!(
            Settings::from_env(&env).err().map(|e| e.var),
            Some("RESOURCE_JWKS_MIN_TTL".to_owned())
        );
    }

    #[test]
    fn log_format_and_booleans_read_the_common_dialects() {
        let env = EnvReader::from_map([
            ("RESOURCE_LOG_FORMAT", "json"),
            ("LOG_FORMAT", "text"),
            ("RESOURCE_ALLOW_INSECURE_HTTP", "YES"),
        ]);
        let s = Settings::from_env(&env).ok();
        assert_eq!(
            s.map(|s| (s.log_json, s.allow_insecure_http)),
            Some((true, true))
        );
        let env = EnvReader::from_map([("LOG_FORMAT", "json")]);
        assert_eq!(
            Settings::from_env(&env).ok().map(|s| s.log_json),
            Some(true)
        );
        for (var, value) in [
            ("LOG_FORMAT", "xml"),
            ("RESOURCE_LOG_FORMAT", "xml"),
            ("RESOURCE_ALLOW_INSECURE_HTTP", "maybe"),
        ] {
            let env = EnvReader::from_map([(var, value)]);
            assert_eq!(
                Settings::from_env(&env).err().map(|e| e.var),
                Some(var.to_owned()),
                "{var}={value}"
            );
        }
    }
}
