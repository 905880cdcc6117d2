//! The `key_timings` table: the key timings each issuer instance on this
//! database runs with, so every process schedules rotations alike (see
//! [`crate::lifecycle::timings`]).

use sqlx::Row as _;

use super::{Store, StoreError};

/// Rows no instance has confirmed for this long are deleted.
const FORGET_AFTER_SECS: i64 = 30 * 86_400;

/// One set of key timings, in seconds, as an instance derives them from its
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimings {
    /// How long a pending key is published before it may sign.
    pub prepublish: i64,
    /// How long a retiring key stays published after its successor activates.
    pub retire_delay: i64,
    /// When a new pending key activates after its predecessor.
    pub rotation_period: i64,
    /// `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age: i64,
    /// Access-token lifetime.
    pub access_ttl: i64,
    /// Clock leeway and safety margin.
    pub margin: i64,
}

impl Store {
    /// Records that an instance runs with `timings` at `now` (a new row, or
    /// a later `seen_at` for the same timings), and deletes the rows no
    /// instance has confirmed for 30 days.
    pub async fn record_key_timings(&self, t: &KeyTimings, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO key_timings \
             (prepublish, retire_delay, rotation_period, jwks_max_age, access_ttl, margin, seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (prepublish, retire_delay, rotation_period, jwks_max_age, access_ttl, margin) \
             DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(t.prepublish)
        .bind(t.retire_delay)
        .bind(t.rotation_period)
        .bind(t.jwks_max_age)
        .bind(t.access_ttl)
        .bind(t.margin)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM key_timings WHERE seen_at < $1")
            .bind(now.saturating_sub(FORGET_AFTER_SECS))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every recorded set of timings with when an instance last confirmed it.
    pub async fn key_timings(&self) -> Result<Vec<(KeyTimings, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT prepublish, retire_delay, rotation_period, jwks_max_age, access_ttl, margin, seen_at \
             FROM key_timings ORDER BY seen_at DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    KeyTimings {
                        prepublish: row.try_get("prepublish")?,
                        retire_delay: row.try_get("retire_delay")?,
                        rotation_period: row.try_get("rotation_period")?,
                        jwks_max_age: row.try_get("jwks_max_age")?,
                        access_ttl: row.try_get("access_ttl")?,
                        margin: row.try_get("margin")?,
                    },
                    row.try_get("seen_at")?,
                ))
            })
            .collect()
    }
}
