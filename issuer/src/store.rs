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
//! Migrations are embedded SQL files under `migrations/{sqlite,postgres}`,
//! applied by sqlx's [`Migrator`] at start-up and before every CLI command.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{MigrateDatabase as _, Migration, MigrationType, Migrator};
use sqlx::{Any, AnyConnection, AnyPool, Connection as _, Row as _, SqlSafeStr as _};

/// A store failure. The message is for the log, never for a response.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is invalid: {0}")]
    Corrupt(&'static str),
}

impl StoreError {
    /// Whether the database is unreachable, restarting, overloaded or busy
    /// (worth a 503 and a retry) rather than broken or misused.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_),
            ) => true,
            StoreError::Db(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|c| transient_code(&c))
            }
            _ => false,
        }
    }

    /// The SQLSTATE (PostgreSQL) or extended result code (SQLite), if the
    /// database answered with an error.
    pub fn code(&self) -> Option<String> {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => e.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// Whether an insert failed on a uniqueness constraint.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

/// Error codes that mean "try again later". PostgreSQL SQLSTATEs: class 08
/// (connection exception), class 53 (insufficient resources, e.g. too many
/// connections), 57P01..57P03 (the server is shutting down, crashed or
/// starting), 57014 (statement timeout), 55P03 (lock timeout), 40001 and
/// 40P01 (serialisation failure, deadlock). SQLite extended codes: the
/// SQLITE_BUSY family (5, 261, 517, 773) and SQLITE_LOCKED (6, 262).
fn transient_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "57014" | "55P03" | "40001" | "40P01"
        )
        || matches!(code, "5" | "261" | "517" | "773" | "6" | "262")
}

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

/// `url` with any password replaced by `***` and the query string dropped
/// (it may carry `password=`), for messages and logs.
pub fn redact_url(url: &str) -> String {
    let url = url.split_once('?').map_or(url, |(base, _)| base);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Up to the last '@': a malformed password may hold '@' or '/'.
    match rest.rsplit_once('@') {
        Some((userinfo, host_and_path)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let redacted = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{redacted}@{host_and_path}")
        }
        None => url.to_owned(),
    }
}

/// Why [`Store::open`] failed: the database (password redacted), what to
/// check, and the cause.
/// The cause is part of the message (not a `source()`), so that it is
/// printed once.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the database in ISSUER_DATABASE_URL ({database}): {hint} ({cause})")]
pub struct OpenError {
    pub database: String,
    pub hint: &'static str,
    pub cause: StoreError,
}

impl OpenError {
    fn new(url: &str, cause: StoreError) -> Self {
        OpenError {
            database: redact_url(url),
            hint: open_hint(&cause),
            cause,
        }
    }
}

fn open_hint(error: &StoreError) -> &'static str {
    match (error, error.code().as_deref()) {
        (StoreError::Db(sqlx::Error::Io(e)), _)
            if e.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            "connection refused; is the database server running and listening at that host and port?"
        }
        (StoreError::Db(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut), _) => {
            "the database could not be reached in time; check the host name, the port and the network"
        }
        (StoreError::Db(sqlx::Error::Tls(_)), _) => {
            "the TLS handshake failed; check sslmode and the server certificate"
        }
        (StoreError::Db(sqlx::Error::Configuration(_)), _) => {
            "the URL is not valid; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE or sqlite:PATH"
        }
        (_, Some("28P01" | "28000")) => "authentication failed; check the user name and password",
        (_, Some("3D000")) => {
            "the database does not exist; create it (for example with createdb) or fix its name in the URL"
        }
        (_, Some("42501")) => {
            "permission denied; the user must be allowed to create tables (the schema migrations)"
        }
        (StoreError::Migrate(_), _) => "applying the schema migrations failed",
        (_, Some(code)) if transient_code(code) => {
            "the database is starting, shutting down or overloaded; try again"
        }
        _ => "the database refused the request",
    }
}

/// A user who logs in with the password grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub roles: Vec<String>,
    /// Scopes this user may receive; `None`: whatever the client may.
    pub scopes: Option<Vec<String>>,
    /// Audiences this user may receive; `None`: whatever the client may.
    pub audiences: Option<Vec<String>>,
    pub disabled: bool,
}

/// A registered OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    /// base64url SHA-256 of the secret; `None` for a public client.
    pub secret_hash: Option<String>,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
    pub disabled: bool,
}

/// A signing key row. `private_key` is the AES-256-GCM sealed PKCS#8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub state: String,
    pub bits: i64,
    pub n: String,
    pub e: String,
    pub private_key: Option<Vec<u8>>,
    pub created_at: i64,
    pub activate_at: i64,
    pub retire_at: Option<i64>,
    pub signed_count: i64,
}

/// A planned rotation for [`Store::rotate_keys`] (Unix seconds).
#[derive(Debug, Clone)]
pub struct KeyRotation<'a> {
    pub pending: &'a str,
    /// The pending key's `activate_at` as the caller read it.
    pub observed_activate_at: i64,
    /// When it activates now.
    pub activate_at: i64,
    pub now: i64,
    /// For the active key, when the pending key activates at once.
    pub retire_at: i64,
}

/// What [`Store::revoke_key`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevocation {
    /// The revoked key's state before.
    pub previous_state: String,
    /// The pending key promoted to active, when the revoked key was active.
    pub promoted: Option<String>,
    /// Whether the successor was inserted as the new pending key.
    pub successor_inserted: bool,
    pub families_revoked: u64,
}

/// Why [`Store::revoke_key`] changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeRefusal {
    NotFound,
    /// Already `retired` or `revoked`.
    Gone(String),
    /// The key is active and there is no pending key to promote.
    NoSuccessor,
}

/// A refresh-token family: one login session. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    pub id: String,
    pub subject: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
    pub created_ms: i64,
    pub last_used_ms: i64,
    /// The absolute lifetime.
    pub expires_ms: i64,
    pub revoked_ms: Option<i64>,
    pub revoked_reason: Option<String>,
}

impl RefreshFamily {
    /// `active`, `expired` or `revoked` at `now_ms`.
    pub fn state(&self, now_ms: i64) -> &'static str {
        if self.revoked_ms.is_some() {
            "revoked"
        } else if self.expires_ms <= now_ms {
            "expired"
        } else {
            "active"
        }
    }
}

/// A stored refresh token (only its hash) with its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub hash: String,
    pub family: RefreshFamily,
    pub parent: Option<String>,
    pub issued_ms: i64,
    /// The idle lifetime, capped by the family's absolute lifetime.
    pub expires_ms: i64,
    pub used_ms: Option<i64>,
    /// Hash of the token that replaced this one.
    pub successor: Option<String>,
    /// The successor sealed under the KEK, during the grace window only.
    pub successor_sealed: Option<Vec<u8>>,
}

/// The replacement written by [`Store::rotate_refresh`].
#[derive(Debug, Clone)]
pub struct NewRefresh<'a> {
    pub hash: &'a str,
    pub expires_ms: i64,
    /// The new token sealed for the grace window (`None` without one).
    pub sealed: Option<&'a [u8]>,
    /// The key signing the access token issued with it.
    pub signing_kid: Option<&'a str>,
}

/// One audit record. Never holds a secret.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent<'a> {
    pub kind: &'a str,
    pub subject: Option<&'a str>,
    pub client: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// Failed logins of one username and one client address, as read by
/// [`Store::login_failures`]. Times are Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    /// The username's `limit`-th newest failure inside the window.
    pub user_nth_ms: Option<i64>,
    /// The address's `limit`-th newest failure inside the window.
    pub ip_nth_ms: Option<i64>,
    /// The username's newest failure, in the window or not.
    pub user_newest_ms: Option<i64>,
}

/// The database handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    sqlite: bool,
    /// SQLite only: refresh rotations go to one writer task that commits
    /// them in batches ([`RotationQueue`]).
    rotations: Option<RotationQueue>,
    /// Recently read clients (see [`CLIENT_CACHE_TTL`]).
    clients: moka::future::Cache<String, Client>,
}

/// How long a client read from the database is reused without reading it
/// again. Clients change only through the CLI (or by hand in the database),
/// so a change made while the issuer runs takes effect within this time; in
/// exchange, the token endpoint saves a database round trip per request.
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);

fn migrator(sqlite: bool) -> Migrator {
    let files: [(i64, &'static str, &'static str); 6] = if sqlite {
        [
            (
                1,
                "initial",
                include_str!("../migrations/sqlite/0001_initial.sql"),
            ),
            (
                2,
                "refresh tokens",
                include_str!("../migrations/sqlite/0002_refresh_tokens.sql"),
            ),
            (
                3,
                "refresh touch",
                include_str!("../migrations/sqlite/0003_refresh_touch.sql"),
            ),
            (
                4,
                "refresh signing kid",
                include_str!("../migrations/sqlite/0004_refresh_signing_kid.sql"),
            ),
            (
                5,
                "login failures",
                include_str!("../migrations/sqlite/0005_login_failures.sql"),
            ),
            (
                6,
                "refresh sealed index",
                include_str!("../migrations/sqlite/0006_refresh_sealed_index.sql"),
            ),
        ]
    } else {
        [
            (
                1,
                "initial",
                include_str!("../migrations/postgres/0001_initial.sql"),
            ),
            (
                2,
                "refresh tokens",
                include_str!("../migrations/postgres/0002_refresh_tokens.sql"),
            ),
            (
                3,
                "refresh touch",
                include_str!("../migrations/postgres/0003_refresh_touch.sql"),
            ),
            (
                4,
                "refresh signing kid",
                include_str!("../migrations/postgres/0004_refresh_signing_kid.sql"),
            ),
            (
                5,
                "login failures",
                include_str!("../migrations/postgres/0005_login_failures.sql"),
            ),
            (
                6,
                "refresh sealed index",
                include_str!("../migrations/postgres/0006_refresh_sealed_index.sql"),
            ),
        ]
    };
    Migrator::with_migrations(
        files
            .into_iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(name),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

pub(crate) fn join(list: &[String]) -> String {
    list.join(" ")
}

pub(crate) fn split(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_owned).collect()
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
        let session = format!(
            "SET statement_timeout = {timeout_ms}; SET lock_timeout = {timeout_ms}; \
             SET idle_in_transaction_session_timeout = {}",
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
        migrator(sqlite).run(&pool).await?;
        Ok(Store {
            rotations: sqlite.then(|| RotationQueue::start(pool.clone())),
            pool,
            sqlite,
            clients: moka::future::Cache::builder()
                .max_capacity(1024)
                .time_to_live(CLIENT_CACHE_TTL)
                .build(),
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

    // ---- users ----

    pub async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO users (name, password_hash, roles, scopes, audiences, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(join(&user.roles))
        .bind(user.scopes.as_deref().map(join))
        .bind(user.audiences.as_deref().map(join))
        .bind(i64::from(user.disabled))
        .bind(shared::now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn find_user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT name, password_hash, roles, scopes, audiences, disabled FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| user_from_row(&row)).transpose()
    }

    // ---- clients ----

    pub async fn insert_client(&self, client: &Client) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clients (id, secret_hash, scopes, audiences, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&client.id)
        .bind(client.secret_hash.as_deref())
        .bind(join(&client.scopes))
        .bind(join(&client.audiences))
        .bind(i64::from(client.disabled))
        .bind(shared::now_unix())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The client named `id`, from the cache if read less than
    /// [`CLIENT_CACHE_TTL`] ago. Unknown ids are not cached.
    pub async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        if let Some(client) = self.clients.get(id).await {
            return Ok(Some(client));
        }
        let client = self.read_client(id).await?;
        if let Some(client) = &client {
            self.clients.insert(client.id.clone(), client.clone()).await;
        }
        Ok(client)
    }

    async fn read_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(
            "SELECT id, secret_hash, scopes, audiences, disabled FROM clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(Client {
                id: row.try_get("id")?,
                secret_hash: row.try_get("secret_hash")?,
                scopes: split(&row.try_get::<String, _>("scopes")?),
                audiences: split(&row.try_get::<String, _>("audiences")?),
                disabled: row.try_get::<i64, _>("disabled")? != 0,
            })
        })
        .transpose()
    }

    /// Every scope some enabled client may receive, sorted (for discovery).
    pub async fn client_scopes(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT scopes FROM clients WHERE disabled = 0")
            .fetch_all(&self.pool)
            .await?;
        let mut scopes = Vec::new();
        for row in &rows {
            scopes.extend(split(&row.try_get::<String, _>("scopes")?));
        }
        scopes.sort_unstable();
        scopes.dedup();
        Ok(scopes)
    }

    // ---- keys ----

    /// Inserts keys in one transaction.
    pub async fn insert_keys(&self, keys: &[StoredKey]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            insert_key_query(key).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every key, oldest activation first.
    pub async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, state, bits, n, e, private_key, created_at, activate_at, retire_at, signed_count \
             FROM signing_keys ORDER BY activate_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// What decides the published key set, without the sealed private keys:
    /// `(kid, state, activate_at, retire_at)` of every pending, active and
    /// retiring key, sorted by kid. Cheap enough to poll every second, so an
    /// instance notices another's key change without decrypting anything.
    pub async fn key_states(&self) -> Result<Vec<(String, String, i64, Option<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, state, activate_at, retire_at FROM signing_keys \
             WHERE state IN ('pending', 'active', 'retiring')",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut states = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("kid")?,
                    r.try_get("state")?,
                    r.try_get("activate_at")?,
                    r.try_get("retire_at")?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Byte order, not the database's collation.
        states.sort_unstable();
        Ok(states)
    }

    /// Promotes pending key `kid` to active and turns the current active key
    /// into a retiring one, in one transaction. Returns `false` (and changes
    /// nothing) when `kid` is no longer pending: another instance did it.
    pub async fn activate_key(&self, kid: &str, retire_at: i64) -> Result<bool, StoreError> {
        let mut tx = self.key_tx().await?;
        let promoted = sqlx::query(
            "UPDATE signing_keys SET state = 'active' WHERE kid = $1 AND state = 'pending'",
        )
        .bind(kid)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if promoted != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE signing_keys SET state = 'retiring', retire_at = $1 \
             WHERE state = 'active' AND kid <> $2",
        )
        .bind(retire_at)
        .bind(kid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Retires every retiring key whose `retire_at` has passed and destroys
    /// its private key. Returns how many were retired.
    pub async fn retire_keys(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE signing_keys SET state = 'retired', private_key = NULL \
             WHERE state = 'retiring' AND retire_at <= $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done)
    }

    /// A transaction that holds the key table's write lock from its first
    /// statement: `BEGIN IMMEDIATE` on SQLite, a self-conflicting table lock
    /// on PostgreSQL. Key changes re-check the state inside it, so two
    /// processes can never both act on what they read before.
    async fn key_tx(&self) -> Result<sqlx::Transaction<'static, Any>, StoreError> {
        if self.sqlite {
            Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
        } else {
            let mut tx = self.pool.begin().await?;
            sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }

    /// Inserts those of `keys` (an active key and/or a pending successor
    /// created at start-up) whose state no stored key has yet, in one
    /// locked transaction: two processes bootstrapping one empty database
    /// end with exactly one active and one pending key. Returns how many
    /// were inserted.
    pub async fn insert_missing_keys(&self, keys: &[StoredKey]) -> Result<u64, StoreError> {
        let mut tx = self.key_tx().await?;
        let mut inserted = 0;
        for key in keys {
            let present: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE state = $1")
                    .bind(&key.state)
                    .fetch_one(&mut *tx)
                    .await?;
            if present == 0 {
                insert_key_query(key).execute(&mut *tx).await?;
                inserted += 1;
            }
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// A planned rotation, in one locked transaction: the pending key
    /// `pending` (still pending, still due at `observed_activate_at`, and the
    /// only pending key) is moved to `activate_at`; when that is not after
    /// `now` it becomes active at once and the active key starts retiring
    /// until `retire_at`. `successor` is inserted as the new pending key.
    /// Returns `false`, changing nothing, when the state is no longer what
    /// the caller saw (another request or instance rotated first).
    pub async fn rotate_keys(
        &self,
        rotation: &KeyRotation<'_>,
        successor: &StoredKey,
        audit: &AuditEvent<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.key_tx().await?;
        let activate_now = rotation.activate_at <= rotation.now;
        let moved = sqlx::query(
            "UPDATE signing_keys SET activate_at = $1, state = $2 \
             WHERE kid = $3 AND state = 'pending' AND activate_at = $4 \
             AND (SELECT COUNT(*) FROM signing_keys WHERE state = 'pending') = 1",
        )
        .bind(rotation.activate_at)
        .bind(if activate_now { "active" } else { "pending" })
        .bind(rotation.pending)
        .bind(rotation.observed_activate_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if activate_now {
            sqlx::query(
                "UPDATE signing_keys SET state = 'retiring', retire_at = $1 \
                 WHERE state = 'active' AND kid <> $2",
            )
            .bind(rotation.retire_at)
            .bind(rotation.pending)
            .execute(&mut *tx)
            .await?;
        }
        insert_key_query(successor).execute(&mut *tx).await?;
        audit_query(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An emergency revocation of `kid`, in one locked transaction: the key
    /// becomes `revoked` with its private key destroyed; if it was active
    /// the earliest pending key is promoted now; if no pending key is left,
    /// `successor` is inserted as one (its `activate_at` is kept, or moved
    /// to the revoked pending key's when that was later); refresh families
    /// with a token issued under `kid` are revoked; `audit` is written.
    pub async fn revoke_key(
        &self,
        kid: &str,
        now: i64,
        successor: Option<&StoredKey>,
        audit: &AuditEvent<'_>,
    ) -> Result<Result<KeyRevocation, RevokeRefusal>, StoreError> {
        let mut tx = self.key_tx().await?;
        let row = sqlx::query("SELECT state, activate_at FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(Err(RevokeRefusal::NotFound));
        };
        let state: String = row.try_get("state")?;
        let old_activate_at: i64 = row.try_get("activate_at")?;
        if state == "retired" || state == "revoked" {
            tx.rollback().await?;
            return Ok(Err(RevokeRefusal::Gone(state)));
        }
        let mut promoted = None;
        if state == "active" {
            let next: Option<String> = sqlx::query_scalar(
                "SELECT kid FROM signing_keys WHERE state = 'pending' \
                 ORDER BY activate_at, kid LIMIT 1",
            )
            .fetch_optional(&mut *tx)
            .await?;
            let Some(next) = next else {
                tx.rollback().await?;
                return Ok(Err(RevokeRefusal::NoSuccessor));
            };
            sqlx::query(
                "UPDATE signing_keys SET state = 'active', activate_at = $1 WHERE kid = $2",
            )
            .bind(now)
            .bind(&next)
            .execute(&mut *tx)
            .await?;
            promoted = Some(next);
        }
        sqlx::query(
            "UPDATE signing_keys SET state = 'revoked', private_key = NULL, retire_at = $1 \
             WHERE kid = $2",
        )
        .bind(now)
        .bind(kid)
        .execute(&mut *tx)
        .await?;
        let pending_left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE state = 'pending'")
                .fetch_one(&mut *tx)
                .await?;
        let successor = successor.filter(|_| pending_left == 0 && state != "retiring");
        let successor_inserted = successor.is_some();
        if let Some(successor) = successor {
            let mut successor = successor.clone();
            if state == "pending" {
                successor.activate_at = successor.activate_at.max(old_activate_at);
            }
            insert_key_query(&successor).execute(&mut *tx).await?;
        }
        let now_ms = now.saturating_mul(1000);
        let families = sqlx::query(
            "UPDATE refresh_families SET revoked_ms = $1, revoked_reason = 'signing key revoked' \
             WHERE revoked_ms IS NULL AND id IN \
             (SELECT family_id FROM refresh_tokens WHERE signing_kid = $2)",
        )
        .bind(now_ms)
        .bind(kid)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL \
             AND family_id IN (SELECT family_id FROM refresh_tokens WHERE signing_kid = $1)",
        )
        .bind(kid)
        .execute(&mut *tx)
        .await?;
        audit_query(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Ok(KeyRevocation {
            previous_state: state,
            promoted,
            successor_inserted,
            families_revoked: families,
        }))
    }

    /// Adds to the signed-token counters (flushed periodically).
    pub async fn add_signed_count(&self, kid: &str, delta: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE signing_keys SET signed_count = signed_count + $1 WHERE kid = $2")
            .bind(delta)
            .bind(kid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Disables or re-enables a user. Returns whether the user exists.
    pub async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2")
            .bind(i64::from(disabled))
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Deletes a user. Returns whether the user existed.
    pub async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    // ---- refresh tokens ----

    /// Starts a family (a login) with its first token, in one transaction.
    pub async fn create_refresh_family(
        &self,
        family: &RefreshFamily,
        token: &NewRefresh<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO refresh_families \
             (id, subject, client_id, scopes, audiences, created_ms, last_used_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&family.id)
        .bind(&family.subject)
        .bind(&family.client_id)
        .bind(join(&family.scopes))
        .bind(join(&family.audiences))
        .bind(family.created_ms)
        .bind(family.last_used_ms)
        .bind(family.expires_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, family_id, parent, issued_ms, expires_ms, signing_kid) \
             VALUES ($1, $2, NULL, $3, $4, $5)",
        )
        .bind(token.hash)
        .bind(&family.id)
        .bind(family.created_ms)
        .bind(token.expires_ms)
        .bind(token.signing_kid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The token with this hash and its family.
    pub async fn find_refresh(&self, hash: &str) -> Result<Option<RefreshToken>, StoreError> {
        let row = sqlx::query(
            "SELECT t.hash, t.parent, t.issued_ms, t.expires_ms AS token_expires_ms, t.used_ms, \
             t.successor, t.successor_sealed, f.id, f.subject, f.client_id, f.scopes, f.audiences, \
             f.created_ms, f.last_used_ms, f.expires_ms, f.revoked_ms, f.revoked_reason \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             WHERE t.hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| refresh_from_row(&row)).transpose()
    }

    /// [`Store::find_refresh`] plus the family's user (`None`: deleted), in
    /// one query: the refresh grant needs both.
    pub async fn find_refresh_and_user(
        &self,
        hash: &str,
    ) -> Result<Option<(RefreshToken, Option<User>)>, StoreError> {
        let row = sqlx::query(
            "SELECT t.hash, t.parent, t.issued_ms, t.expires_ms AS token_expires_ms, t.used_ms, \
             t.successor, t.successor_sealed, f.id, f.subject, f.client_id, f.scopes, f.audiences, \
             f.created_ms, f.last_used_ms, f.expires_ms, f.revoked_ms, f.revoked_reason, \
             u.name AS user_name, u.password_hash AS user_password_hash, u.roles AS user_roles, \
             u.scopes AS user_scopes, u.audiences AS user_audiences, u.disabled AS user_disabled \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             LEFT JOIN users u ON u.name = f.subject \
             WHERE t.hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let token = refresh_from_row(&row)?;
            let user = match row.try_get::<Option<String>, _>("user_name")? {
                None => None,
                Some(name) => Some(User {
                    name,
                    password_hash: row.try_get("user_password_hash")?,
                    roles: split(&row.try_get::<String, _>("user_roles")?),
                    scopes: row
                        .try_get::<Option<String>, _>("user_scopes")?
                        .map(|s| split(&s)),
                    audiences: row
                        .try_get::<Option<String>, _>("user_audiences")?
                        .map(|s| split(&s)),
                    disabled: row.try_get::<i64, _>("user_disabled")? != 0,
                }),
            };
            Ok((token, user))
        })
        .transpose()
    }

    /// Rotates `parent` to `child` atomically: the conditional update of the
    /// parent is the first statement (it takes the row lock on PostgreSQL and
    /// the write lock on SQLite), so of concurrent callers with one token
    /// exactly one gets `true`. `false`: the token was already used, has
    /// expired, or its family is revoked or expired; nothing changed.
    /// `audit` is written in the same transaction.
    /// With `seal_before_ms`, also drops the family's sealed successors whose
    /// grace window ended before it.
    pub async fn rotate_refresh(
        &self,
        family: &str,
        parent: &str,
        child: &NewRefresh<'_>,
        now_ms: i64,
        seal_before_ms: Option<i64>,
        audit: &AuditEvent<'_>,
    ) -> Result<bool, StoreError> {
        let rotation = Rotation {
            family: family.to_owned(),
            parent: parent.to_owned(),
            child_hash: child.hash.to_owned(),
            child_expires_ms: child.expires_ms,
            sealed: child.sealed.map(<[u8]>::to_vec),
            signing_kid: child.signing_kid.map(str::to_owned),
            now_ms,
            seal_before_ms,
            audit: OwnedAuditEvent::from(audit),
        };
        match &self.rotations {
            Some(queue) => queue.rotate(rotation).await,
            None => rotate_in_one_statement(&self.pool, &rotation).await,
        }
    }

    /// Revokes a family and drops its sealed successors. Returns whether it
    /// was live before.
    pub async fn revoke_family(
        &self,
        id: &str,
        now_ms: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE refresh_families SET revoked_ms = $1, revoked_reason = $2 \
             WHERE id = $3 AND revoked_ms IS NULL",
        )
        .bind(now_ms)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE refresh_tokens SET successor_sealed = NULL \
             WHERE family_id = $1 AND successor_sealed IS NOT NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Revokes every live family of a user. Returns how many.
    pub async fn revoke_user_families(
        &self,
        subject: &str,
        now_ms: i64,
        reason: &str,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE refresh_families SET revoked_ms = $1, revoked_reason = $2 \
             WHERE subject = $3 AND revoked_ms IS NULL",
        )
        .bind(now_ms)
        .bind(reason)
        .bind(subject)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL \
             AND family_id IN (SELECT id FROM refresh_families WHERE subject = $1)",
        )
        .bind(subject)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Families, newest first; only `subject`'s when given.
    pub async fn list_families(
        &self,
        subject: Option<&str>,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, subject, client_id, scopes, audiences, created_ms, last_used_ms, \
             expires_ms, revoked_ms, revoked_reason FROM refresh_families \
             WHERE ($1 IS NULL OR subject = $1) ORDER BY created_ms DESC, id",
        )
        .bind(subject)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(family_from_row).collect()
    }

    pub async fn find_family(&self, id: &str) -> Result<Option<RefreshFamily>, StoreError> {
        let row = sqlx::query(
            "SELECT id, subject, client_id, scopes, audiences, created_ms, last_used_ms, \
             expires_ms, revoked_ms, revoked_reason FROM refresh_families WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| family_from_row(&row)).transpose()
    }

    /// How many tokens were issued as successors of `parent`.
    pub async fn refresh_children(&self, parent: &str) -> Result<i64, StoreError> {
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE parent = $1")
            .bind(parent)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Drops sealed successors whose grace window ended before `before_ms`.
    pub async fn purge_sealed_successors(&self, before_ms: i64) -> Result<u64, StoreError> {
        let n = sqlx::query(
            "UPDATE refresh_tokens SET successor_sealed = NULL \
             WHERE successor_sealed IS NOT NULL AND used_ms < $1",
        )
        .bind(before_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }

    // ---- login failures ----

    /// What the login throttle ([`crate::throttle`]) needs before a password
    /// check, in one query: for the username and for the client address,
    /// the time of the `limit`-th newest failure after `since_ms` (`None`:
    /// fewer failures than that), and the username's newest failure at any
    /// time (`None`: a successful login has nothing to clear).
    pub async fn login_failures(
        &self,
        (user, user_limit): (&str, u32),
        (ip, ip_limit): (&str, u32),
        since_ms: i64,
    ) -> Result<LoginFailures, StoreError> {
        let row = sqlx::query(
            "SELECT \
             (SELECT at_ms FROM login_failures WHERE kind = 'user' AND key = $1 AND at_ms > $2 \
              ORDER BY at_ms DESC LIMIT 1 OFFSET $3) AS user_nth, \
             (SELECT at_ms FROM login_failures WHERE kind = 'ip' AND key = $4 AND at_ms > $5 \
              ORDER BY at_ms DESC LIMIT 1 OFFSET $6) AS ip_nth, \
             (SELECT MAX(at_ms) FROM login_failures WHERE kind = 'user' AND key = $7) AS user_newest",
        )
        .bind(user)
        .bind(since_ms)
        .bind(i64::from(user_limit.saturating_sub(1)))
        .bind(ip)
        .bind(since_ms)
        .bind(i64::from(ip_limit.saturating_sub(1)))
        .bind(user)
        .fetch_one(&self.pool)
        .await?;
        Ok(LoginFailures {
            user_nth_ms: row.try_get("user_nth")?,
            ip_nth_ms: row.try_get("ip_nth")?,
            user_newest_ms: row.try_get("user_newest")?,
        })
    }

    /// Records one failed login at `at_ms` for the username and for the
    /// client address, and deletes their failures at or before `expired_ms`
    /// (out of the window), in one transaction.
    pub async fn record_login_failure(
        &self,
        user: &str,
        ip: &str,
        at_ms: i64,
        expired_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM login_failures \
             WHERE ((kind = 'user' AND key = $1) OR (kind = 'ip' AND key = $2)) AND at_ms <= $3",
        )
        .bind(user)
        .bind(ip)
        .bind(expired_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO login_failures (kind, key, at_ms) VALUES ('user', $1, $2), ('ip', $3, $4)",
        )
        .bind(user)
        .bind(at_ms)
        .bind(ip)
        .bind(at_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the failed logins of username `user` (after a successful
    /// login); client addresses keep theirs. Returns how many were deleted.
    pub async fn clear_user_login_failures(&self, user: &str) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM login_failures WHERE kind = 'user' AND key = $1")
            .bind(user)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }

    /// Deletes every failed login at or before `expired_ms`.
    pub async fn purge_login_failures(&self, expired_ms: i64) -> Result<u64, StoreError> {
        let n = sqlx::query("DELETE FROM login_failures WHERE at_ms <= $1")
            .bind(expired_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }

    // ---- audit ----

    pub async fn audit(&self, event: &AuditEvent<'_>) -> Result<(), StoreError> {
        audit_query(event).execute(&self.pool).await?;
        Ok(())
    }

    /// Audit events of one kind, newest first (for tests and tooling).
    pub async fn audit_kinds(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows = sqlx::query("SELECT kind, subject FROM audit_events ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("subject")?)))
            .collect()
    }
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        roles: split(&row.try_get::<String, _>("roles")?),
        scopes: row
            .try_get::<Option<String>, _>("scopes")?
            .map(|s| split(&s)),
        audiences: row
            .try_get::<Option<String>, _>("audiences")?
            .map(|s| split(&s)),
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

fn insert_key_query(
    key: &StoredKey,
) -> sqlx::query::Query<'_, Any, <Any as sqlx::Database>::Arguments> {
    sqlx::query(
        "INSERT INTO signing_keys \
         (kid, state, alg, bits, n, e, private_key, created_at, activate_at, retire_at, signed_count) \
         VALUES ($1, $2, 'RS256', $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&key.kid)
    .bind(&key.state)
    .bind(key.bits)
    .bind(&key.n)
    .bind(&key.e)
    .bind(key.private_key.as_deref())
    .bind(key.created_at)
    .bind(key.activate_at)
    .bind(key.retire_at)
    .bind(key.signed_count)
}

fn audit_query<'q>(
    event: &AuditEvent<'q>,
) -> sqlx::query::Query<'q, Any, <Any as sqlx::Database>::Arguments> {
    sqlx::query(
        "INSERT INTO audit_events (at, kind, subject, client, ip, request_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(shared::now_unix())
    .bind(event.kind)
    .bind(event.subject)
    .bind(event.client)
    .bind(event.ip)
    .bind(event.request_id)
    .bind(event.detail)
}

fn refresh_from_row(row: &AnyRow) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        hash: row.try_get("hash")?,
        family: family_from_row(row)?,
        parent: row.try_get("parent")?,
        issued_ms: row.try_get("issued_ms")?,
        expires_ms: row.try_get("token_expires_ms")?,
        used_ms: row.try_get("used_ms")?,
        successor: row.try_get("successor")?,
        successor_sealed: row.try_get("successor_sealed")?,
    })
}

fn family_from_row(row: &AnyRow) -> Result<RefreshFamily, StoreError> {
    Ok(RefreshFamily {
        id: row.try_get("id")?,
        subject: row.try_get("subject")?,
        client_id: row.try_get("client_id")?,
        scopes: split(&row.try_get::<String, _>("scopes")?),
        audiences: split(&row.try_get::<String, _>("audiences")?),
        created_ms: row.try_get("created_ms")?,
        last_used_ms: row.try_get("last_used_ms")?,
        expires_ms: row.try_get("expires_ms")?,
        revoked_ms: row.try_get("revoked_ms")?,
        revoked_reason: row.try_get("revoked_reason")?,
    })
}

/// The current time in Unix milliseconds (refresh-token tables).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn key_from_row(row: &AnyRow) -> Result<StoredKey, StoreError> {
    Ok(StoredKey {
        kid: row.try_get("kid")?,
        state: row.try_get("state")?,
        bits: row.try_get("bits")?,
        n: row.try_get("n")?,
        e: row.try_get("e")?,
        private_key: row.try_get("private_key")?,
        created_at: row.try_get("created_at")?,
        activate_at: row.try_get("activate_at")?,
        retire_at: row.try_get("retire_at")?,
        signed_count: row.try_get("signed_count")?,
    })
}

/// One refresh rotation, owned so that it can wait in the [`RotationQueue`].
#[derive(Debug)]
struct Rotation {
    family: String,
    parent: String,
    child_hash: String,
    child_expires_ms: i64,
    sealed: Option<Vec<u8>>,
    signing_kid: Option<String>,
    now_ms: i64,
    seal_before_ms: Option<i64>,
    audit: OwnedAuditEvent,
}

#[derive(Debug)]
struct OwnedAuditEvent {
    kind: String,
    subject: Option<String>,
    client: Option<String>,
    ip: Option<String>,
    request_id: Option<String>,
    detail: Option<String>,
}

impl From<&AuditEvent<'_>> for OwnedAuditEvent {
    fn from(e: &AuditEvent<'_>) -> Self {
        let own = |v: Option<&str>| v.map(str::to_owned);
        OwnedAuditEvent {
            kind: e.kind.to_owned(),
            subject: own(e.subject),
            client: own(e.client),
            ip: own(e.ip),
            request_id: own(e.request_id),
            detail: own(e.detail),
        }
    }
}

/// The first statement of a rotation: marks the parent used, naming its
/// successor, if it is still unused, unexpired and in a live family.
/// `false`: it was not, and nothing was written.
async fn claim_parent(conn: &mut sqlx::AnyConnection, r: &Rotation) -> Result<bool, StoreError> {
    let claimed = sqlx::query(
        "UPDATE refresh_tokens SET used_ms = $1, successor = $2, successor_sealed = $3 \
         WHERE hash = $4 AND used_ms IS NULL AND expires_ms > $5 \
         AND EXISTS (SELECT 1 FROM refresh_families f WHERE f.id = refresh_tokens.family_id \
                     AND f.revoked_ms IS NULL AND f.expires_ms > $6)",
    )
    .bind(r.now_ms)
    .bind(&r.child_hash)
    .bind(r.sealed.as_deref())
    .bind(&r.parent)
    .bind(r.now_ms)
    .bind(r.now_ms)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// The rest of the rotations whose parents were claimed: the successors
/// and the audit events, one multi-row INSERT each, and the expired sealed
/// successors of their families dropped.
async fn write_successors(
    conn: &mut sqlx::AnyConnection,
    claimed: &[&Rotation],
) -> Result<(), StoreError> {
    if claimed.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO refresh_tokens (hash, family_id, parent, issued_ms, expires_ms, signing_kid) \
         VALUES {}",
        placeholders(claimed.len(), 6)
    );
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in claimed {
        insert = insert
            .bind(&r.child_hash)
            .bind(&r.family)
            .bind(&r.parent)
            .bind(r.now_ms)
            .bind(r.child_expires_ms)
            .bind(&r.signing_kid);
    }
    // Trigger refresh_tokens_touch_family (migration 0003) sets each
    // family's last_used_ms.
    insert.execute(&mut *conn).await?;
    for r in claimed {
        if let Some(before) = r.seal_before_ms {
            sqlx::query(
                "UPDATE refresh_tokens SET successor_sealed = NULL \
                 WHERE family_id = $1 AND successor_sealed IS NOT NULL AND used_ms < $2",
            )
            .bind(&r.family)
            .bind(before)
            .execute(&mut *conn)
            .await?;
        }
    }
    let sql = format!(
        "INSERT INTO audit_events (at, kind, subject, client, ip, request_id, detail) VALUES {}",
        placeholders(claimed.len(), 7)
    );
    let at = shared::now_unix();
    let mut audit = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in claimed {
        let e = &r.audit;
        audit = audit
            .bind(at)
            .bind(&e.kind)
            .bind(&e.subject)
            .bind(&e.client)
            .bind(&e.ip)
            .bind(&e.request_id)
            .bind(&e.detail);
    }
    audit.execute(&mut *conn).await?;
    Ok(())
}

/// `($1, $2), ($3, $4)` for `rows` = 2, `columns` = 2.
fn placeholders(rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let params: Vec<String> = (1..=columns)
            .map(|c| format!("${}", r * columns + c))
            .collect();
        format!("({})", params.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// One rotation in its own transaction (the SQLite queue's fallback when a
/// batch fails).
async fn rotate_alone(pool: &AnyPool, rotation: &Rotation) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let won = claim_parent(&mut tx, rotation).await?;
    if won {
        write_successors(&mut tx, &[rotation]).await?;
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(won)
}

/// One rotation as one PostgreSQL statement in an explicit transaction
/// (three round trips instead of five): the same conditional claim of the
/// parent as [`claim_parent`]; only if it claimed a row, the successor
/// (whose insert trigger touches the family), the expired sealed successors
/// of the family dropped, and the audit event. Rotations of different
/// families commit in parallel under row locks; of one token, the row lock
/// makes the second claim see `used_ms` set and claim nothing.
///
/// The explicit `COMMIT` matters: a statement in autocommit mode commits
/// when it completes even if the process that sent it has died, so an
/// issuer killed while its rotation waits on a lock would spend the token
/// without anyone receiving the successor. Here the commit comes only from
/// a live process.
async fn rotate_in_one_statement(pool: &AnyPool, r: &Rotation) -> Result<bool, StoreError> {
    // Without a grace window nothing is sealed, and the purge (a look at
    // every token of the family) is left out; `$7 >= 0` (always true) keeps
    // the parameter in the statement so that PostgreSQL can type it.
    const PURGE: &str = "purged AS ( \
             UPDATE refresh_tokens SET successor_sealed = NULL \
             WHERE family_id IN (SELECT family_id FROM claimed) \
             AND successor_sealed IS NOT NULL AND used_ms < $7), ";
    let sql = format!(
        "WITH claimed AS ( \
             UPDATE refresh_tokens SET used_ms = $1, successor = $2, successor_sealed = $3 \
             WHERE hash = $4 AND used_ms IS NULL AND expires_ms > $1 \
             AND EXISTS (SELECT 1 FROM refresh_families f WHERE f.id = refresh_tokens.family_id \
                         AND f.revoked_ms IS NULL AND f.expires_ms > $1) \
             RETURNING family_id), \
         child AS ( \
             INSERT INTO refresh_tokens (hash, family_id, parent, issued_ms, expires_ms, signing_kid) \
             SELECT $2, family_id, $4, $1, $5, $6 FROM claimed), \
         {} \
         audit AS ( \
             INSERT INTO audit_events (at, kind, subject, client, ip, request_id, detail) \
             SELECT $8, $9, $10, $11, $12, $13, $14 FROM claimed) \
         SELECT COUNT(*) FROM claimed WHERE $7 >= 0",
        if r.seal_before_ms.is_some() {
            PURGE
        } else {
            ""
        }
    );
    let mut tx = pool.begin().await?;
    let claimed: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(r.now_ms)
        .bind(&r.child_hash)
        .bind(r.sealed.as_deref())
        .bind(&r.parent)
        .bind(r.child_expires_ms)
        .bind(&r.signing_kid)
        .bind(r.seal_before_ms.unwrap_or(0))
        .bind(shared::now_unix())
        .bind(&r.audit.kind)
        .bind(&r.audit.subject)
        .bind(&r.audit.client)
        .bind(&r.audit.ip)
        .bind(&r.audit.request_id)
        .bind(&r.audit.detail)
        .fetch_one(&mut *tx)
        .await?;
    if claimed == 1 {
        tx.commit().await?;
        Ok(true)
    } else {
        tx.rollback().await?;
        Ok(false)
    }
}

/// Group commit for SQLite, which has one writer at a time: rotations from
/// concurrent requests queue to one task, which commits whatever has queued
/// up (at most [`RotationQueue::MAX_BATCH`]) in one transaction. A batch
/// costs one `BEGIN`, one `COMMIT` and one fsync instead of one each per
/// refresh, and nobody waits in SQLite's busy handler (which polls with
/// sleeps of up to 100 ms). Each rotation's conditional update still
/// decides it alone, in queue order, so exactly one of several rotations
/// of one token wins, as before. Every caller is answered only after the
/// commit that holds its rotation.
#[derive(Debug, Clone)]
struct RotationQueue {
    jobs: tokio::sync::mpsc::Sender<(Rotation, RotationReply)>,
}

type RotationReply = tokio::sync::oneshot::Sender<Result<bool, StoreError>>;

impl RotationQueue {
    const MAX_BATCH: usize = 64;

    /// Spawns the writer task; it ends when the last [`Store`] clone is gone.
    fn start(pool: AnyPool) -> Self {
        let (jobs, queued) = tokio::sync::mpsc::channel(4 * Self::MAX_BATCH);
        tokio::spawn(Self::write(pool, queued));
        RotationQueue { jobs }
    }

    async fn rotate(&self, rotation: Rotation) -> Result<bool, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        // The writer only stops when every sender is gone, or the runtime
        // shuts down: then the database is as unavailable as a closed pool.
        let closed = || StoreError::Db(sqlx::Error::PoolClosed);
        self.jobs
            .send((rotation, reply))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn write(
        pool: AnyPool,
        mut queued: tokio::sync::mpsc::Receiver<(Rotation, RotationReply)>,
    ) {
        let mut batch = Vec::with_capacity(Self::MAX_BATCH);
        while queued.recv_many(&mut batch, Self::MAX_BATCH).await > 0 {
            match Self::commit(&pool, &batch).await {
                Ok(results) => {
                    for ((_, reply), won) in batch.drain(..).zip(results) {
                        // The caller may have gone (client disconnected).
                        let _ = reply.send(Ok(won));
                    }
                }
                // Nothing of the batch was committed: retry each rotation
                // alone, so one failing rotation does not fail the others.
                Err(_) => {
                    for (rotation, reply) in batch.drain(..) {
                        let _ = reply.send(rotate_alone(&pool, &rotation).await);
                    }
                }
            }
        }
    }

    async fn commit(
        pool: &AnyPool,
        batch: &[(Rotation, RotationReply)],
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = pool.begin().await?;
        let mut results = Vec::with_capacity(batch.len());
        for (rotation, _) in batch {
            results.push(claim_parent(&mut tx, rotation).await?);
        }
        let claimed: Vec<&Rotation> = batch
            .iter()
            .zip(&results)
            .filter_map(|((rotation, _), &won)| won.then_some(rotation))
            .collect();
        write_successors(&mut tx, &claimed).await?;
        tx.commit().await?;
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_keep_everything_but_the_password() {
        assert_eq!(
            redact_url("postgres://issuer:s3cret@db:5432/issuer?sslmode=require&password=x"),
            "postgres://issuer:***@db:5432/issuer"
        );
        assert_eq!(
            redact_url("postgres://issuer@db/issuer"),
            "postgres://issuer@db/issuer"
        );
        assert_eq!(redact_url("postgres://db"), "postgres://db");
        assert_eq!(
            redact_url("sqlite:/data/issuer.db"),
            "sqlite:/data/issuer.db"
        );
        // A password holding '@' or '/' stays hidden.
        assert_eq!(
            redact_url("postgres://u:p@ss/w@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
    }

    #[test]
    fn transient_codes_are_retryable_and_others_are_not() {
        for code in ["08006", "57P01", "53300", "40001", "57014", "5", "517"] {
            assert!(transient_code(code), "{code}");
        }
        for code in ["28P01", "3D000", "23505", "42P01", "19", "2067"] {
            assert!(!transient_code(code), "{code}");
        }
    }
}
