//! The schema migrations of each database: every file of
//! `migrations/sqlite` and `migrations/postgres`, embedded at build time
//! (`build.rs` lists the directories, so no migration can be left out by
//! forgetting to name it here).

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

// `SQLITE` and `POSTGRES`: (version, description, SQL) of each file.
include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The migrator of SQLite (`sqlite`) or PostgreSQL. sqlx records each
/// migration's version with a SHA-384 of its SQL and refuses to start when
/// an applied file has changed.
pub(super) fn migrator(sqlite: bool) -> Migrator {
    let files = if sqlite { SQLITE } else { POSTGRES };
    Migrator::with_migrations(
        files
            .iter()
            .map(|&(version, name, sql)| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(files: &[(i64, &'static str, &'static str)]) -> Vec<(i64, &'static str)> {
        files.iter().map(|&(v, name, _)| (v, name)).collect()
    }

    #[test]
    fn both_databases_have_the_same_migrations() {
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        for files in [SQLITE, POSTGRES] {
            for (k, &(version, _, sql)) in files.iter().enumerate() {
                assert_eq!(version, k as i64 + 1, "versions are 1, 2, 3, ...");
                assert!(!sql.trim().is_empty(), "migration {version} is empty");
            }
        }
    }

    /// Databases already hold these migrations with these names and
    /// checksums (the first 8 bytes of each SHA-384 shown); sqlx refuses to
    /// start on a database whose applied migration has changed, so these
    /// files must never be edited (add a new migration instead).
    #[test]
    fn applied_migrations_are_unchanged() {
        let applied = [
            (1, "initial", "85593fed20ecb4fc", "d02521ed769b5edc"),
            (2, "refresh tokens", "8137437c7289e097", "73173290537b18cf"),
            (3, "refresh touch", "7c3aade969d4a27f", "f9635a2b1fe418a1"),
            (
                4,
                "refresh signing kid",
                "1bc7c1db6e8e7b2e",
                "1bc7c1db6e8e7b2e",
            ),
            (5, "login failures", "5c847880ad6efc60", "5c847880ad6efc60"),
            (
                6,
                "refresh sealed index",
                "c6dd517ec0621f23",
                "c6dd517ec0621f23",
            ),
        ];
        let (sqlite, postgres) = (migrator(true), migrator(false));
        assert_eq!(sqlite.iter().count(), SQLITE.len());
        assert_eq!(postgres.iter().count(), POSTGRES.len());
        let shown = |m: &Migration| -> (i64, String, String) {
            let hex = m.checksum[..8].iter().map(|b| format!("{b:02x}")).collect();
            (m.version, m.description.to_string(), hex)
        };
        for (m, (version, name, checksum, _)) in sqlite.iter().zip(applied) {
            assert_eq!(shown(m), (version, name.to_owned(), checksum.to_owned()));
        }
        for (m, (version, name, _, checksum)) in postgres.iter().zip(applied) {
            assert_eq!(shown(m), (version, name.to_owned(), checksum.to_owned()));
        }
    }
}
