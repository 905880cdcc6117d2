//! Typed configuration, read once at start-up from `ISSUER_*` variables.
//!
//! Every value has a default, so `issuer serve` runs with no configuration.
//! A value that is set but unusable stops start-up with a
//! [`ConfigError`] naming the variable. Tests build a [`Config`] from a map
//! with [`Config::from_reader`] and [`EnvReader::from_map`], or start from
//! [`Config::default`] and set fields.

use std::path::PathBuf;
use std::time::Duration;

use shared::config::{ConfigError, EnvReader, Secret};

/// Where the key-encryption key (KEK) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekSource {
    /// `ISSUER_KEK`: 32 bytes, base64url.
    Inline(Secret<[u8; 32]>),
    /// `ISSUER_KEK_FILE`: a file holding the base64url KEK.
    File(PathBuf),
    /// Neither set: a file next to the SQLite database, created on first
    /// run (mode 0600) with a loud warning.
    Generated,
}

/// RSA modulus sizes the issuer generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBits {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyBits {
    pub fn bits(self) -> u32 {
        match self {
            KeyBits::Rsa2048 => 2048,
            KeyBits::Rsa3072 => 3072,
            KeyBits::Rsa4096 => 4096,
        }
    }

    pub fn from_bits(bits: i64) -> Option<Self> {
        match bits {
            2048 => Some(KeyBits::Rsa2048),
            3072 => Some(KeyBits::Rsa3072),
            4096 => Some(KeyBits::Rsa4096),
            _ => None,
        }
    }
}

/// Failed-login throttling: a sliding window per username and per client IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// `ISSUER_LOGIN_MAX_FAILURES_PER_USER` (default 5).
    pub max_failures_per_user: u32,
    /// `ISSUER_LOGIN_MAX_FAILURES_PER_IP` (default 20).
    pub max_failures_per_ip: u32,
    /// `ISSUER_LOGIN_FAILURE_WINDOW` (default 5m, 10s..1d).
    pub window: Duration,
}

/// Refresh-token lifetimes and delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshConfig {
    /// `ISSUER_REFRESH_TOKEN_IDLE_TTL`: a token unused this long expires
    /// (default 14d, 1s..365d).
    pub idle_ttl: Duration,
    /// `ISSUER_REFRESH_TOKEN_ABSOLUTE_TTL`: a family (login) ends this long
    /// after the login however it is used (default 90d, 1s..3650d).
    pub absolute_ttl: Duration,
    /// `ISSUER_REFRESH_GRACE`: how long the immediate predecessor of the
    /// newest token may be retried, answering with the same successor
    /// (default 0, at most 60s).
    pub grace: Duration,
    /// `ISSUER_REFRESH_COOKIE`: deliver refresh tokens in an `HttpOnly`
    /// cookie instead of the response body (default false; `true/false`,
    /// `1/0`, `yes/no`, `on/off`).
    pub cookie: bool,
}

/// The issuer's configuration. See the crate docs for the variables.
/// `Debug` shows the database URL with its password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `ISSUER_LISTEN`, `host:port` (default `127.0.0.1:8080`).
    pub listen: String,
    /// `ISSUER_URL`: the `iss` claim and base of discovery, without a
    /// trailing slash (default `http://localhost:8080`).
    pub issuer_url: String,
    /// `ISSUER_DATABASE_URL` (default `sqlite:issuer.db`).
    pub database_url: String,
    /// `ISSUER_KEK` / `ISSUER_KEK_FILE`.
    pub kek: KekSource,
    /// `ISSUER_ACCESS_TOKEN_TTL` (default 10m, 1m..1h).
    pub access_token_ttl: Duration,
    /// `ISSUER_JWKS_MAX_AGE` in seconds (default 300, 0..86400).
    pub jwks_max_age: Duration,
    /// `ISSUER_KEY_BITS`: 2048 (default), 3072 or 4096.
    pub key_bits: KeyBits,
    /// `ISSUER_KEY_ROTATION_PERIOD`: lifetime of an active key before its
    /// successor activates (default 30d, 1m..365d; `off`: only manual
    /// rotations, see [`ROTATION_OFF`]).
    pub rotation_period: Duration,
    /// `ISSUER_KEY_MARGIN`: clock leeway and safety margin added to the key
    /// timings (default 60s, 1s..1h).
    pub key_margin: Duration,
    /// `ISSUER_KEY_PREPUBLISH`: how long a pending key is in the JWKS before
    /// it may sign (default and minimum 2 x JWKS max-age + margin).
    pub key_prepublish: Option<Duration>,
    /// `ISSUER_KEY_RETIRE_DELAY`: how long a key stays published after its
    /// successor activates (default and minimum access-token TTL + margin +
    /// JWKS max-age).
    pub key_retire_delay: Option<Duration>,
    /// `ISSUER_ADMIN_AUDIENCE`: the audience an access token for
    /// `/admin/keys` must carry (default: the issuer URL).
    pub admin_audience: Option<String>,
    /// `ISSUER_BOOTSTRAP_FILE`: demo users and clients to create at start-up
    /// (default unset: no demo data).
    pub bootstrap_file: Option<PathBuf>,
    /// Login throttling.
    pub throttle: ThrottleConfig,
    /// Refresh tokens.
    pub refresh: RefreshConfig,
    /// `ISSUER_WORKERS`: HTTP worker threads (default: available cores).
    pub workers: usize,
    /// `ISSUER_MAX_CONNECTIONS`: open HTTP connections per worker (default 10000).
    pub max_connections: usize,
    /// `ISSUER_DB_MAX_CONNECTIONS`: database pool size (default 8).
    pub db_max_connections: u32,
    /// `ISSUER_DB_ACQUIRE_TIMEOUT`: how long a request waits for a database
    /// connection before it is answered 503 (default 5s, 100ms..60s).
    pub db_acquire_timeout: Duration,
    /// `ISSUER_DB_STATEMENT_TIMEOUT`: PostgreSQL statement and lock timeout
    /// (default 10s, 100ms..10m).
    pub db_statement_timeout: Duration,
    /// `ISSUER_DB_STARTUP_WAIT`: how long `serve` keeps retrying a database
    /// it cannot reach at start-up before giving up (default 30s, 0..10m).
    pub db_startup_wait: Duration,
    /// `ISSUER_PASSWORD_HASH_CONCURRENCY`: Argon2 jobs at once (default 2 × cores).
    pub password_hash_concurrency: usize,
    /// `ISSUER_LOG_FORMAT=json`, or `LOG_FORMAT=json` when the former is
    /// unset (see `shared::telemetry::log_json`).
    pub log_json: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so that a new field cannot be left out unnoticed.
        let Config {
            listen,
            issuer_url,
            database_url,
            kek,
            access_token_ttl,
            jwks_max_age,
            key_bits,
            rotation_period,
            key_margin,
            key_prepublish,
            key_retire_delay,
            admin_audience,
            bootstrap_file,
            throttle,
            refresh,
            workers,
            max_connections,
            db_max_connections,
            db_acquire_timeout,
            db_statement_timeout,
            db_startup_wait,
            password_hash_concurrency,
            log_json,
        } = self;
        f.debug_struct("Config")
            .field("listen", listen)
            .field("issuer_url", issuer_url)
            .field("database_url", &crate::store::redact_url(database_url))
            .field("kek", kek)
            .field("access_token_ttl", access_token_ttl)
            .field("jwks_max_age", jwks_max_age)
            .field("key_bits", key_bits)
            .field("rotation_period", rotation_period)
            .field("key_margin", key_margin)
            .field("key_prepublish", key_prepublish)
            .field("key_retire_delay", key_retire_delay)
            .field("admin_audience", admin_audience)
            .field("bootstrap_file", bootstrap_file)
            .field("throttle", throttle)
            .field("refresh", refresh)
            .field("workers", workers)
            .field("max_connections", max_connections)
            .field("db_max_connections", db_max_connections)
            .field("db_acquire_timeout", db_acquire_timeout)
            .field("db_statement_timeout", db_statement_timeout)
            .field("db_startup_wait", db_startup_wait)
            .field("password_hash_concurrency", password_hash_concurrency)
            .field("log_json", log_json)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Config {
            listen: "127.0.0.1:8080".into(),
            issuer_url: "http://localhost:8080".into(),
            database_url: "sqlite:issuer.db".into(),
            kek: KekSource::Generated,
            access_token_ttl: Duration::from_secs(600),
            jwks_max_age: Duration::from_secs(300),
            key_bits: KeyBits::Rsa2048,
            rotation_period: Duration::from_secs(30 * 86_400),
            key_margin: Duration::from_secs(60),
            key_prepublish: None,
            key_retire_delay: None,
            admin_audience: None,
            bootstrap_file: None,
            throttle: ThrottleConfig {
                max_failures_per_user: 5,
                max_failures_per_ip: 20,
                window: Duration::from_secs(300),
            },
            refresh: RefreshConfig {
                idle_ttl: Duration::from_secs(14 * 86_400),
                absolute_ttl: Duration::from_secs(90 * 86_400),
                grace: Duration::ZERO,
                cookie: false,
            },
            workers: cores,
            max_connections: 10_000,
            db_max_connections: 8,
            db_acquire_timeout: Duration::from_secs(5),
            db_statement_timeout: Duration::from_secs(10),
            db_startup_wait: Duration::from_secs(30),
            password_hash_concurrency: cores * 2,
            log_json: false,
        }
    }
}

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

        let log_json = shared::telemetry::log_json(env, "ISSUER_LOG_FORMAT")?;

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
            log_json,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks that the key timings cannot let a resource service meet an
    /// unknown `kid` or lose a key whose tokens are still valid. Called by
    /// [`Config::from_reader`] and again at start-up (tests build `Config`
    /// directly).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let min_prepublish = self.jwks_max_age * 2 + self.key_margin;
        if self.prepublish() < min_prepublish {
            return Err(ConfigError::new(
                "ISSUER_KEY_PREPUBLISH",
                format!(
                    "must be at least 2 x ISSUER_JWKS_MAX_AGE + ISSUER_KEY_MARGIN ({}s): a \
                     resource service could meet a token signed by a key it has not fetched yet",
                    min_prepublish.as_secs()
                ),
            ));
        }
        let min_retire = self.access_token_ttl + self.key_margin + self.jwks_max_age;
        if self.retire_delay() < min_retire {
            return Err(ConfigError::new(
                "ISSUER_KEY_RETIRE_DELAY",
                format!(
                    "must be at least ISSUER_ACCESS_TOKEN_TTL + ISSUER_KEY_MARGIN + \
                     ISSUER_JWKS_MAX_AGE ({}s): a key would leave the JWKS while tokens it \
                     signed are still valid",
                    min_retire.as_secs()
                ),
            ));
        }
        if self.rotation_period < self.prepublish() {
            return Err(ConfigError::new(
                "ISSUER_KEY_ROTATION_PERIOD",
                format!(
                    "must be at least the pre-publication lead ({}s): a new key could not be \
                     published long enough before it signs",
                    self.prepublish().as_secs()
                ),
            ));
        }
        Ok(())
    }

    /// The database pool settings.
    pub fn pool_settings(&self) -> crate::store::PoolSettings {
        crate::store::PoolSettings {
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            statement_timeout: self.db_statement_timeout,
        }
    }

    /// How long before `activate_at` a pending key must already be in the
    /// JWKS: `ISSUER_KEY_PREPUBLISH`, by default twice the JWKS max-age plus
    /// the margin.
    pub fn prepublish(&self) -> Duration {
        self.key_prepublish
            .unwrap_or(self.jwks_max_age * 2 + self.key_margin)
    }

    /// How long a key stays published after its successor activates:
    /// `ISSUER_KEY_RETIRE_DELAY`, by default the access-token lifetime, the
    /// margin (clock leeway) and the JWKS max-age (DESIGN "Keys and rotation").
    pub fn retire_delay(&self) -> Duration {
        self.key_retire_delay
            .unwrap_or(self.access_token_ttl + self.key_margin + self.jwks_max_age)
    }

    /// Whether scheduled rotation is on (`ISSUER_KEY_ROTATION_PERIOD` is not `off`).
    pub fn scheduled_rotation(&self) -> bool {
        self.rotation_period < ROTATION_OFF
    }

    /// The audience admin tokens must carry.
    pub fn admin_audience(&self) -> &str {
        self.admin_audience.as_deref().unwrap_or(&self.issuer_url)
    }

    /// The SQLite database file, when the store is SQLite and on disk.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        sqlite_path(&self.database_url)
    }
}

/// `ISSUER_KEY_ROTATION_PERIOD=off`: the pending key activates a century
/// later, that is only through `issuer keys rotate` or the admin API.
pub const ROTATION_OFF: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The file path of a `sqlite:` URL (`sqlite:x.db`, `sqlite://x.db`,
/// `sqlite:///abs/x.db`, with or without `?options`); `None` for in-memory.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

/// Decodes a base64url KEK of exactly 32 bytes.
pub fn parse_kek(text: &str) -> Option<[u8; 32]> {
    shared::b64::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
}

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
    use super::*;

    #[test]
    fn everything_has_a_default() {
        let config = Config::from_reader(&EnvReader::from_map::<&str, &str>([]));
        assert_eq!(config, Ok(Config::default()));
    }

    #[test]
    fn debug_output_hides_the_database_password_and_the_kek() {
        let config = Config {
            database_url: "postgres://issuer:s3cret-pw@db:5432/issuer".into(),
            kek: KekSource::Inline(Secret::new([7u8; 32])),
            ..Config::default()
        };
        let text = format!("{config:?}");
        assert!(
            text.contains("postgres://issuer:***@db:5432/issuer"),
            "{text}"
        );
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(!text.contains("7, 7"), "{text}");
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
    fn unsafe_key_timings_are_refused_with_the_reason() {
        for (vars, var, why) in [
            (
                vec![("ISSUER_KEY_PREPUBLISH", "5m")],
                "ISSUER_KEY_PREPUBLISH",
                "has not fetched",
            ),
            (
                vec![("ISSUER_KEY_RETIRE_DELAY", "10m")],
                "ISSUER_KEY_RETIRE_DELAY",
                "still valid",
            ),
            (
                vec![
                    ("ISSUER_JWKS_MAX_AGE", "3600"),
                    ("ISSUER_KEY_ROTATION_PERIOD", "1h"),
                ],
                "ISSUER_KEY_ROTATION_PERIOD",
                "published long enough",
            ),
        ] {
            let err = Config::from_reader(&EnvReader::from_map(vars)).err();
            assert_eq!(err.as_ref().map(|e| e.var.as_str()), Some(var));
            let message = err.map(|e| e.message).unwrap_or_default();
            assert!(message.contains(why), "{message}");
        }
        // The minimum itself is fine.
        let env = EnvReader::from_map([
            ("ISSUER_KEY_PREPUBLISH", "660"),
            ("ISSUER_KEY_RETIRE_DELAY", "960"),
        ]);
        assert!(Config::from_reader(&env).is_ok());
        // Demo timings: a rotation every few minutes is allowed when the
        // JWKS max-age leaves room for the pre-publication lead.
        let env = EnvReader::from_map([
            ("ISSUER_JWKS_MAX_AGE", "10"),
            ("ISSUER_KEY_MARGIN", "5s"),
            ("ISSUER_ACCESS_TOKEN_TTL", "1m"),
            ("ISSUER_KEY_ROTATION_PERIOD", "3m"),
        ]);
        assert!(Config::from_reader(&env).is_ok());
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

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite:issuer.db"), Some("issuer.db".into()));
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db?mode=rwc"),
            Some("/tmp/x.db".into())
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}
