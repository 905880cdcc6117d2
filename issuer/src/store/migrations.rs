//! The schema migrations of each database, embedded from
//! `migrations/{sqlite,postgres}`.

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

pub(super) fn migrator(sqlite: bool) -> Migrator {
    let files: [(i64, &'static str, &'static str); 6] = if sqlite {
        [
            (
                1,
                "initial",
                include_str!("../../migrations/sqlite/0001_initial.sql"),
            ),
            (
                2,
                "refresh tokens",
                include_str!("../../migrations/sqlite/0002_refresh_tokens.sql"),
            ),
            (
                3,
                "refresh touch",
                include_str!("../../migrations/sqlite/0003_refresh_touch.sql"),
            ),
            (
                4,
                "refresh signing kid",
                include_str!("../../migrations/sqlite/0004_refresh_signing_kid.sql"),
            ),
            (
                5,
                "login failures",
                include_str!("../../migrations/sqlite/0005_login_failures.sql"),
            ),
            (
                6,
                "refresh sealed index",
                include_str!("../../migrations/sqlite/0006_refresh_sealed_index.sql"),
            ),
        ]
    } else {
        [
            (
                1,
                "initial",
                include_str!("../../migrations/postgres/0001_initial.sql"),
            ),
            (
                2,
                "refresh tokens",
                include_str!("../../migrations/postgres/0002_refresh_tokens.sql"),
            ),
            (
                3,
                "refresh touch",
                include_str!("../../migrations/postgres/0003_refresh_touch.sql"),
            ),
            (
                4,
                "refresh signing kid",
                include_str!("../../migrations/postgres/0004_refresh_signing_kid.sql"),
            ),
            (
                5,
                "login failures",
                include_str!("../../migrations/postgres/0005_login_failures.sql"),
            ),
            (
                6,
                "refresh sealed index",
                include_str!("../../migrations/postgres/0006_refresh_sealed_index.sql"),
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
