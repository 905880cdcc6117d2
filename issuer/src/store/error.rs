//! What can go wrong with the database: [`StoreError`] and its
//! classification (unavailable, unique violation, error code), and
//! [`OpenError`], the start-up failure with a hint of what to check.

use super::redact_url;

/// A store failure. The message is for the log, never for a response.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored row is invalid: {0}")]
    Corrupt(&'static str),
    #[error("stored signing key {kid} has an unknown state {state:?}")]
    UnknownKeyState { kid: String, state: String },
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

/// Why [`Store::open`](super::Store::open) failed: the database (password redacted), what to
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
    pub(super) fn new(url: &str, cause: StoreError) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

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
