//! The issuer's database: users, clients, signing keys and audit events.
//!
//! One [`sqlx::AnyPool`] serves SQLite (the default, a file created on first
//! use, WAL journal, 5 s busy timeout) and PostgreSQL with the same queries.
//! Queries use `$n` placeholders in order, which both accept. Lists (roles,
//! scopes, audiences) are stored as space-separated text, times as Unix
//! seconds, booleans as 0/1.
//!
//! Migrations are embedded SQL files under `migrations/{sqlite,postgres}`,
//! applied by sqlx's [`Migrator`] at start-up and before every CLI command.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{MigrateDatabase as _, Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Row as _, SqlSafeStr as _};

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
    /// Whether the database is unreachable or overloaded (worth a 503 and a
    /// retry) rather than broken.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
            )
        )
    }

    /// Whether an insert failed on a uniqueness constraint.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
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

/// The database handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

fn migrator(sqlite: bool) -> Migrator {
    let sql: &'static str = if sqlite {
        include_str!("../migrations/sqlite/0001_initial.sql")
    } else {
        include_str!("../migrations/postgres/0001_initial.sql")
    };
    Migrator::with_migrations(vec![Migration::new(
        1,
        Cow::Borrowed("initial"),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )])
}

pub(crate) fn join(list: &[String]) -> String {
    list.join(" ")
}

pub(crate) fn split(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_owned).collect()
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if sqlite && !Any::database_exists(url).await? {
            Any::create_database(url).await?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        if sqlite {
            // Persistent in the file; sqlx sets a 5 s busy timeout itself.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        migrator(sqlite).run(&pool).await?;
        Ok(Store { pool })
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

    pub async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
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
            .execute(&mut *tx)
            .await?;
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

    /// Promotes pending key `kid` to active and turns the current active key
    /// into a retiring one, in one transaction. Returns `false` (and changes
    /// nothing) when `kid` is no longer pending: another instance did it.
    pub async fn activate_key(&self, kid: &str, retire_at: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
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

    /// Adds to the signed-token counters (flushed periodically).
    pub async fn add_signed_count(&self, kid: &str, delta: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE signing_keys SET signed_count = signed_count + $1 WHERE kid = $2")
            .bind(delta)
            .bind(kid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- audit ----

    pub async fn audit(&self, event: &AuditEvent<'_>) -> Result<(), StoreError> {
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
        .execute(&self.pool)
        .await?;
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
