//! Typed configuration, read once at start-up from `ISSUER_*` variables.
//!
//! Every value has a default, so `issuer serve` runs with no configuration.
//! A value that is set but unusable stops start-up with a
//! [`ConfigError`] naming the variable. Tests build a [`Config`] from a map
//! with [`Config::from_reader`] and [`EnvReader::from_map`], or start from
//! [`Config::default`] and set fields.
//!
//! # Layout
//!
//! - this module: the types, their defaults, `Debug` (redacting secrets) and
//!   the timings derived from them.
//! - `env`: reading the variables ([`Config::from_env`], [`Config::from_reader`]).
//! - `validate`: the cross-field checks of the key timings ([`Config::validate`]).
//!
//! [`ConfigError`]: service_kit::config::ConfigError
//! [`EnvReader::from_map`]: service_kit::config::EnvReader::from_map

mod env;
mod validate;

use std::path::PathBuf;
use std::time::Duration;

use service_kit::config::Secret;

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
    /// `ISSUER_PASSWORD_HASH_CONCURRENCY`: Argon2 jobs at once, each
    /// holding 19 MiB for the life of the process (default: available
    /// cores, 1..256).
    pub password_hash_concurrency: usize,
    /// `ISSUER_PASSWORD_QUEUE`: logins that may wait for an Argon2 worker
    /// before more are answered 503 (default 64, 0..100000).
    pub password_queue: usize,
    /// `ISSUER_PASSWORD_QUEUE_TIMEOUT`: how long a login waits for an Argon2
    /// worker before it is answered 503 (default 5s, 10ms..60s).
    pub password_queue_timeout: Duration,
    /// `ISSUER_LOG_FORMAT=json`, or `LOG_FORMAT=json` when the former is
    /// unset (see `service_kit::telemetry::log_json`).
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
            password_queue,
            password_queue_timeout,
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
            .field("password_queue", password_queue)
            .field("password_queue_timeout", password_queue_timeout)
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
            // Argon2 with p=1 keeps one core busy per job: more jobs than
            // cores would add memory, not throughput.
            password_hash_concurrency: cores,
            password_queue: 64,
            password_queue_timeout: Duration::from_secs(5),
            log_json: false,
        }
    }
}

impl Config {
    /// The database pool settings.
    pub fn pool_settings(&self) -> crate::store::PoolSettings {
        crate::store::PoolSettings {
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            statement_timeout: self.db_statement_timeout,
        }
    }

    /// The password-check pool's size and queue.
    pub fn password_limits(&self) -> crate::password::Limits {
        crate::password::Limits {
            concurrency: self.password_hash_concurrency,
            queue: self.password_queue,
            queue_timeout: self.password_queue_timeout,
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
    /// margin (clock leeway) and the JWKS max-age (ARCHITECTURE.md, "The key lifecycle").
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

#[cfg(test)]
mod tests {
    use super::*;

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
