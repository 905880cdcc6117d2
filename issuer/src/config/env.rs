//! Reading the issuer's configuration from `ISSUER_*` variables (the
//! process environment or a map), value by value, each error naming its
//! variable; the cross-field checks follow in `validate`.

use std::path::PathBuf;
use std::time::Duration;

use service_kit::config::{ConfigError, EnvReader, Secret};

use super::{Config, KekSource, KeyBits, ROTATION_OFF, RefreshConfig, ThrottleConfig, parse_kek};

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_reader(&EnvReader::from_env())
    }

    /// Reads variables through `env` (the process environment or a map).
    pub fn from_reader(env: &EnvReader) -> Result<Self, ConfigError> {
        let d = Config::default();
        let secs = Duration::from_secs;

        let listen = env.string("ISSUER_LISTEN", &d.listen);
        if !listen.contains(':') {
            return Err(ConfigError::new(
                "ISSUER_LISTEN",
                "expected host:port, such as 127.0.0.1:8080",
            ));
        }

        let issuer_url = env
            .string("ISSUER_URL", &d.issuer_url)
            .trim_end_matches('/')
            .to_owned();
        if !(issuer_url.starts_with("https://") || issuer_url.starts_with("http://"))
            || issuer_url.contains(['?', '#', ' '])
        {
            return Err(ConfigError::new(
                "ISSUER_URL",
                "expected an http(s) URL without query or fragment",
            ));
        }

        let database_url = env.string("ISSUER_DATABASE_URL", &d.database_url);
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "ISSUER_DATABASE_URL",
                "expected sqlite:PATH or postgres://…",
            ));
        }

        let kek = match (env.optional("ISSUER_KEK"), env.optional("ISSUER_KEK_FILE")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "ISSUER_KEK",
                    "set ISSUER_KEK or ISSUER_KEK_FILE, not both",
                ));
            }
            (Some(text), None) => {
                KekSource::Inline(Secret::new(parse_kek(&text).ok_or_else(|| {
                    ConfigError::new("ISSUER_KEK", "expected 32 bytes, base64url without padding")
                })?))
            }
            (None, Some(path)) => KekSource::File(PathBuf::from(path)),
            (None, None) => KekSource::Generated,
        };
        if kek == KekSource::Generated && !database_url.starts_with("sqlite:") {
            return Err(ConfigError::new(
                "ISSUER_KEK",
                "required when the database is not SQLite (or set ISSUER_KEK_FILE)",
            ));
        }

        let access_token_ttl = env.duration(
            "ISSUER_ACCESS_TOKEN_TTL",
            d.access_token_ttl,
            secs(60),
            secs(3600),
        )?;
        let max_age: u64 = env.parse(
            "ISSUER_JWKS_MAX_AGE",
            d.jwks_max_age.as_secs(),
            "whole seconds (0 to 86400)",
        )?;
        if max_age > 86_400 {
            return Err(ConfigError::new(
                "ISSUER_JWKS_MAX_AGE",
                "must be between 0 and 86400 seconds",
            ));
        }
        let bits: i64 = env.parse("ISSUER_KEY_BITS", 2048, "2048, 3072 or 4096")?;
        let key_bits = KeyBits::from_bits(bits)
            .ok_or_else(|| ConfigError::new("ISSUER_KEY_BITS", "expected 2048, 3072 or 4096"))?;
        let rotation_period = match env.optional("ISSUER_KEY_ROTATION_PERIOD") {
            Some(v) if v.trim().eq_ignore_ascii_case("off") => ROTATION_OFF,
            _ => env.duration(
                "ISSUER_KEY_ROTATION_PERIOD",
                d.rotation_period,
                // The real floor is the pre-publication lead (checked in
                // `validate`); one minute allows drills and demo stacks.
                secs(60),
                secs(365 * 86_400),
            )?,
        };
        let key_margin = env.duration("ISSUER_KEY_MARGIN", d.key_margin, secs(1), secs(3600))?;
        let key_prepublish = env
            .optional("ISSUER_KEY_PREPUBLISH")
            .map(|_| {
                env.duration(
                    "ISSUER_KEY_PREPUBLISH",
                    secs(0),
                    secs(1),
                    secs(365 * 86_400),
                )
            })
            .transpose()?;
        let key_retire_delay = env
            .optional("ISSUER_KEY_RETIRE_DELAY")
            .map(|_| {
                env.duration(
                    "ISSUER_KEY_RETIRE_DELAY",
                    secs(0),
                    secs(1),
                    secs(365 * 86_400),
                )
            })
            .transpose()?;
        let admin_audience = env.optional("ISSUER_ADMIN_AUDIENCE");
        if admin_audience.as_deref().is_some_and(|a| {
            a.is_empty() || a.len() > 128 || !a.chars().all(|c| c.is_ascii_graphic())
        }) {
            return Err(ConfigError::new(
                "ISSUER_ADMIN_AUDIENCE",
                "expected 1 to 128 printable ASCII characters without spaces",
            ));
        }

        let throttle = ThrottleConfig {
            max_failures_per_user: positive(
                env,
                "ISSUER_LOGIN_MAX_FAILURES_PER_USER",
                d.throttle.max_failures_per_user,
            )?,
            max_failures_per_ip: positive(
                env,
                "ISSUER_LOGIN_MAX_FAILURES_PER_IP",
                d.throttle.max_failures_per_ip,
            )?,
            window: env.duration(
                "ISSUER_LOGIN_FAILURE_WINDOW",
                d.throttle.window,
                secs(10),
                secs(86_400),
            )?,
        };

        let refresh = RefreshConfig {
            idle_ttl: env.duration(
                "ISSUER_REFRESH_TOKEN_IDLE_TTL",
                d.refresh.idle_ttl,
                secs(1),
                secs(365 * 86_400),
            )?,
            absolute_ttl: env.duration(
                "ISSUER_REFRESH_TOKEN_ABSOLUTE_TTL",
                d.refresh.absolute_ttl,
                secs(1),
                secs(3650 * 86_400),
            )?,
            grace: env.duration(
                "ISSUER_REFRESH_GRACE",
                d.refresh.grace,
                Duration::ZERO,
                secs(60),
            )?,
            cookie: env.bool("ISSUER_REFRESH_COOKIE", d.refresh.cookie)?,
        };

        let workers = positive(env, "ISSUER_WORKERS", d.workers)?;
        let max_connections = positive(env, "ISSUER_MAX_CONNECTIONS", d.max_connections)?;
        let db_max_connections = positive(env, "ISSUER_DB_MAX_CONNECTIONS", d.db_max_connections)?;
        let db_acquire_timeout = env.duration(
            "ISSUER_DB_ACQUIRE_TIMEOUT",
            d.db_acquire_timeout,
            Duration::from_millis(100),
            Duration::from_secs(60),
        )?;
        let db_statement_timeout = env.duration(
            "ISSUER_DB_STATEMENT_TIMEOUT",
            d.db_statement_timeout,
            Duration::from_millis(100),
            Duration::from_secs(600),
        )?;
        let db_startup_wait = env.duration(
            "ISSUER_DB_STARTUP_WAIT",
            d.db_startup_wait,
            Duration::ZERO,
            Duration::from_secs(600),
        )?;
        let password_hash_concurrency = positive(
            env,
            "ISSUER_PASSWORD_HASH_CONCURRENCY",
            d.password_hash_concurrency,
        )?;
        if password_hash_concurrency > MAX_PASSWORD_HASH_CONCURRENCY {
            return Err(ConfigError::new(
                "ISSUER_PASSWORD_HASH_CONCURRENCY",
                "expected 1 to 256 (each job holds 19 MiB)",
            ));
        }
        let password_queue: usize = env.parse(
            "ISSUER_PASSWORD_QUEUE",
            d.password_queue,
            "a whole number from 0 to 100000",
        )?;
        if password_queue > MAX_PASSWORD_QUEUE {
            return Err(ConfigError::new(
                "ISSUER_PASSWORD_QUEUE",
                "expected a whole number from 0 to 100000",
            ));
        }
        let password_queue_timeout = env.duration(
            "ISSUER_PASSWORD_QUEUE_TIMEOUT",
            d.password_queue_timeout,
            Duration::from_millis(10),
            Duration::from_secs(60),
        )?;

        let log_json = service_kit::telemetry::log_json(env, "ISSUER_LOG_FORMAT")?;

        let config = Config {
            listen,
            issuer_url,
            database_url,
            kek,
            access_token_ttl,
            jwks_max_age: secs(max_age),
            key_bits,
            rotation_period,
            key_margin,
            key_prepublish,
            key_retire_delay,
            admin_audience,
            bootstrap_file: env.optional("ISSUER_BOOTSTRAP_FILE").map(PathBuf::from),
            throttle,
            refresh,
            workers,
            max_connections,
            db_max_connections,
            db_acquire_timeout,
            db_statement_timeout,
            db_startup_wait,
            password_hash_concurrency,
            password_queue,
            password_queue_timeout,
            log_json,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Upper bounds of the password-check pool (19 MiB per job) and its queue.
const MAX_PASSWORD_HASH_CONCURRENCY: usize = 256;
const MAX_PASSWORD_QUEUE: usize = 100_000;

fn positive<T>(env: &EnvReader, name: &str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    let value = env.parse(name, default, "a positive whole number")?;
    if value <= T::default() {
        return Err(ConfigError::new(name, "expected a positive whole number"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use service_kit::config::EnvReader;

    use super::super::Config;

    #[test]
    fn everything_has_a_default() {
        let config = Config::from_reader(&EnvReader::from_map::<&str, &str>([]));
        assert_eq!(config, Ok(Config::default()));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("ISSUER_ACCESS_TOKEN_TTL", "2h"),
            ("ISSUER_ACCESS_TOKEN_TTL", "soon"),
            ("ISSUER_KEY_BITS", "1024"),
            ("ISSUER_KEK", "c2hvcnQ"),
            ("ISSUER_JWKS_MAX_AGE", "-1"),
            ("ISSUER_URL", "ftp://x"),
            ("ISSUER_LOG_FORMAT", "xml"),
            ("ISSUER_WORKERS", "0"),
            ("ISSUER_REFRESH_GRACE", "61s"),
            ("ISSUER_REFRESH_TOKEN_IDLE_TTL", "0"),
            ("ISSUER_REFRESH_COOKIE", "maybe"),
            ("ISSUER_PASSWORD_HASH_CONCURRENCY", "0"),
            ("ISSUER_PASSWORD_HASH_CONCURRENCY", "257"),
            ("ISSUER_PASSWORD_QUEUE", "-1"),
            ("ISSUER_PASSWORD_QUEUE", "100001"),
            ("ISSUER_PASSWORD_QUEUE_TIMEOUT", "5ms"),
            ("ISSUER_PASSWORD_QUEUE_TIMEOUT", "2m"),
            ("LOG_FORMAT", "xml"),
        ] {
            let err = Config::from_reader(&EnvReader::from_map([(var, value)])).err();
            assert_eq!(err.map(|e| e.var), Some(var.to_owned()), "{var}={value}");
        }
    }

    #[test]
    fn booleans_and_the_log_format_read_the_common_dialects() {
        for (value, want) in [("true", true), ("1", true), ("yes", true), ("ON", true)] {
            let env = EnvReader::from_map([("ISSUER_REFRESH_COOKIE", value)]);
            let config = Config::from_reader(&env);
            assert_eq!(config.map(|c| c.refresh.cookie), Ok(want), "{value}");
        }
        for (value, want) in [
            ("false", false),
            ("0", false),
            ("no", false),
            ("Off", false),
        ] {
            let env = EnvReader::from_map([("ISSUER_REFRESH_COOKIE", value)]);
            let config = Config::from_reader(&env);
            assert_eq!(config.map(|c| c.refresh.cookie), Ok(want), "{value}");
        }
        for (vars, want) in [
            (vec![("LOG_FORMAT", "json")], true),
            (vec![("ISSUER_LOG_FORMAT", "JSON")], true),
            (
                vec![("ISSUER_LOG_FORMAT", "text"), ("LOG_FORMAT", "json")],
                false,
            ),
        ] {
            let config = Config::from_reader(&EnvReader::from_map(vars.clone()));
            assert_eq!(config.map(|c| c.log_json), Ok(want), "{vars:?}");
        }
    }

    #[test]
    fn rotation_can_be_off() {
        let env = EnvReader::from_map([("ISSUER_KEY_ROTATION_PERIOD", "off")]);
        let config = Config::from_reader(&env);
        assert_eq!(config.map(|c| c.scheduled_rotation()), Ok(false));
        assert!(Config::default().scheduled_rotation());
        assert_eq!(Config::default().admin_audience(), "http://localhost:8080");
    }

    #[test]
    fn postgres_needs_a_configured_kek() {
        let env = EnvReader::from_map([("ISSUER_DATABASE_URL", "postgres://db/issuer")]);
        assert_eq!(
            Config::from_reader(&env).err().map(|e| e.var),
            Some("ISSUER_KEK".into())
        );
    }
}
