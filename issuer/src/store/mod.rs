//! The issuer's database: users, clients, signing keys, refresh-token
//! families and audit events.
//!
//! One [`sqlx::AnyPool`] serves SQLite (the default, a file created on first
//! use, WAL journal, 5 s busy timeout) and PostgreSQL with the same queries.
//! SQLite runs with `synchronous = FULL`: every commit (a revocation, a
//! refresh rotation, a key transition) is on disk before it is answered, so
//! a power loss cannot bring back a revoked session. That costs an fsync
//! per commit, which is the price of "nothing lost".
//! Queries use `$n` placeholders in order, which both accept. Lists (roles,
//! scopes, audiences) are stored as space-separated text, times as Unix
//! seconds (refresh tables: milliseconds, columns ending `_ms`), booleans as 0/1.
//!
//! Migrations are the SQL files under `migrations/{sqlite,postgres}`, all
//! of them embedded at build time (`build.rs`, `migrations.rs`) and applied
//! by sqlx's [`Migrator`](sqlx::migrate::Migrator) at start-up and before
//! every CLI command.
//!
//! This module holds the handle (the pool, connecting, closing). Each table
//! has a submodule with its row types and its `impl Store` block: `users`,
//! `clients` (with the client cache), `keys` (`signing_keys` and
//! [`KeyState`]), `key_timings` (the timings each instance runs with),
//! `refresh` (families and tokens), `login_failures`, `audit`;
//! `group_commit` is the batching writer of audit events (and on SQLite of
//! refresh rotations), `error` the error types, `codec` how lists are
//! stored.

mod audit;
mod clients;
mod codec;
mod error;
mod group_commit;
mod key_timings;
mod keys;
mod login_failures;
mod migrations;
mod redact;
mod refresh;
mod users;

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::MigrateDatabase as _;
use sqlx::{Any, AnyConnection, AnyPool, Connection as _};

pub use audit::AuditEvent;
pub use clients::{CLIENT_CACHE_TTL, Client, ClientListing};
pub use error::{OpenError, StoreError};
pub use key_timings::KeyTimings;
pub use keys::{KeyRevocation, KeyRotation, KeyState, RevokeRefusal, StoredKey};
pub use login_failures::LoginFailures;
pub use redact::redact_url;
pub use refresh::{NewRefresh, RefreshFamily, RefreshToken};
pub use users::{User, UserListing};

use group_commit::WriteQueue;

/// Connection-pool settings for [`Store::connect_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections at most.
    pub max_connections: u32,
    /// How long a query waits for a connection (an idle one, or a new one
    /// being opened) before it fails as unavailable (a 503).
    pub acquire_timeout: Duration,
    /// PostgreSQL only: `statement_timeout` and `lock_timeout` of every
    /// session, so a query stuck behind a lock or a slow server fails (503)
    /// instead of holding a request and a connection for ever; sessions
    /// idle inside a transaction are ended after 4 times this.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// The database handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    sqlite: bool,
    /// The writer task that commits audit events (and on SQLite refresh
    /// rotations) in batches ([`WriteQueue`]).
    writes: WriteQueue,
    /// Recently read clients (see [`CLIENT_CACHE_TTL`]).
    clients: moka::future::Cache<String, Client>,
}

impl Store {
    /// Connects with the default [`PoolSettings`] and `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let settings = PoolSettings {
            max_connections,
            ..PoolSettings::default()
        };
        Self::connect_with(url, &settings).await
    }

    /// What `issuer serve` and every CLI command use: [`Store::connect_with`],
    /// retried while the database is unavailable (not yet started,
    /// restarting, refusing connections) for up to `wait`, with a warning
    /// per attempt. Other errors (bad credentials, a missing database, a
    /// failed migration) return at once. The error says what to check.
    pub async fn open(
        url: &str,
        settings: &PoolSettings,
        wait: Duration,
    ) -> Result<Self, OpenError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(250);
        loop {
            match Self::connect_with(url, settings).await {
                Err(e) if e.is_unavailable() && tokio::time::Instant::now() + pause < deadline => {
                    tracing::warn!(
                        database = %redact_url(url),
                        error = %e,
                        retry_in_ms = pause.as_millis() as u64,
                        "database not reachable yet; retrying"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                other => return other.map_err(|e| OpenError::new(url, e)),
            }
        }
    }

    /// Connects (creating a SQLite file if missing) and applies migrations.
    /// A pool whose database goes away keeps running: queries fail as
    /// unavailable ([`StoreError::is_unavailable`]) until it is back, and
    /// broken connections are replaced (PostgreSQL connections are checked
    /// before each use).
    pub async fn connect_with(url: &str, settings: &PoolSettings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if sqlite && !Any::database_exists(url).await? {
            Any::create_database(url).await?;
        }
        // One connection first, so that a failure reports its cause
        // (refused, authentication, no such database) rather than the
        // pool's "timed out".
        let probe = tokio::time::timeout(settings.acquire_timeout, AnyConnection::connect(url))
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connecting timed out",
                ))
            })??;
        probe.close().await?;
        let timeout_ms = settings.statement_timeout.as_millis();
        // NOTICEs (such as "relation already exists, skipping" from the
        // migrator's `CREATE TABLE IF NOT EXISTS` on every start and CLI
        // command) are not sent: sqlx would log each one.
        let session = format!(
            "SET statement_timeout = {timeout_ms}; SET lock_timeout = {timeout_ms}; \
             SET idle_in_transaction_session_timeout = {}; SET client_min_messages = warning",
            timeout_ms.saturating_mul(4)
        );
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            // A local SQLite file does not go stale; skipping the ping saves
            // a round trip to its worker thread on every query.
            .test_before_acquire(!sqlite)
            .after_connect(move |conn, _meta| {
                let session = session.clone();
                Box::pin(async move {
                    if sqlite {
                        // Durable commits: a revocation must survive a power
                        // loss (see the module docs).
                        sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = FULL").await?;
                    } else {
                        sqlx::Executor::execute(&mut *conn, sqlx::AssertSqlSafe(session)).await?;
                    }
                    Ok(())
                })
            })
            .acquire_timeout(settings.acquire_timeout)
            .connect(url)
            .await?;
        if sqlite {
            // Persistent in the file; sqlx sets a 5 s busy timeout itself.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        migrations::migrator(sqlite).run(&pool).await?;
        Ok(Store {
            writes: WriteQueue::start(pool.clone()),
            pool,
            sqlite,
            clients: clients::client_cache(),
        })
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A trivial query, for readiness.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
