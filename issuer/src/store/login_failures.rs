//! The `login_failures` table: recent failed logins per username and per
//! client address, for the login throttle.

use sqlx::Row as _;

use super::{Store, StoreError};

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

impl Store {
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
}
