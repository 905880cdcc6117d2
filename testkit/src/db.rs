//! Which database a test issuer gets: SQLite in its directory, or a
//! database on the PostgreSQL server `ISSUER_TEST_DATABASE_URL` names.

use std::path::Path;

/// The environment variable naming the PostgreSQL server of the CI pass.
pub const DATABASE_ENV: &str = "ISSUER_TEST_DATABASE_URL";

/// The database of the issuer whose files live in `dir`: SQLite in `dir`, or,
/// when `ISSUER_TEST_DATABASE_URL` names a PostgreSQL server, a database on
/// it named after `dir` (so a restart on the same `dir` finds the same data).
pub fn test_database_url(dir: &Path) -> String {
    match std::env::var(DATABASE_ENV) {
        Ok(base) if base.starts_with("postgres") => {
            use std::hash::{Hash as _, Hasher as _};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut h);
            format!("{}/it_{:016x}", base.trim_end_matches('/'), h.finish())
        }
        _ => format!("sqlite:{}", dir.join("issuer.db").display()),
    }
}

/// True when the tests run against PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(DATABASE_ENV).is_ok_and(|base| base.starts_with("postgres"))
}

/// For PostgreSQL-only tests (marked `#[ignore = "needs PostgreSQL: …"]`):
/// the database for `dir`, created. Panics on SQLite, so such a test run
/// without a server fails instead of passing.
pub async fn postgres_url(dir: &Path) -> String {
    assert!(
        on_postgres(),
        "needs PostgreSQL: run with scripts/with-postgres.sh ({DATABASE_ENV})"
    );
    let url = test_database_url(dir);
    ensure_database(&url).await;
    url
}

/// Creates the PostgreSQL database `url` names if it does not exist yet
/// (the issuer creates SQLite files itself, but not server databases).
pub async fn ensure_database(url: &str) {
    if url.starts_with("postgres") {
        use sqlx::migrate::MigrateDatabase as _;
        sqlx::any::install_default_drivers();
        if !sqlx::Any::database_exists(url).await.unwrap() {
            sqlx::Any::create_database(url).await.unwrap();
        }
    }
}
