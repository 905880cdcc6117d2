//! The `signing_keys` table: key rows, and the locked transactions that
//! move keys through their states (activation, retirement, planned
//! rotation, emergency revocation).

use std::fmt;

use sqlx::any::AnyRow;
use sqlx::{Any, Row as _};

use super::audit::{AuditEvent, audit_query};
use super::{Store, StoreError};

/// The lifecycle state of a key (ARCHITECTURE.md, "The key lifecycle"), as stored in
/// `signing_keys.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyState {
    Pending,
    Active,
    Retiring,
    Retired,
    Revoked,
}

impl KeyState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Retiring => "retiring",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }

    /// The state stored as `s`; `None` for any other text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => KeyState::Pending,
            "active" => KeyState::Active,
            "retiring" => KeyState::Retiring,
            "retired" => KeyState::Retired,
            "revoked" => KeyState::Revoked,
            _ => return None,
        })
    }

    /// Whether keys in this state appear in the JWKS.
    pub fn published(self) -> bool {
        matches!(
            self,
            KeyState::Pending | KeyState::Active | KeyState::Retiring
        )
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The state column of the row of key `kid`; an unknown text is an error.
fn state_of(row: &AnyRow, kid: &str) -> Result<KeyState, StoreError> {
    let state: String = row.try_get("state")?;
    KeyState::parse(&state).ok_or_else(|| StoreError::UnknownKeyState {
        kid: kid.to_owned(),
        state,
    })
}

/// A signing key row. `private_key` is the AES-256-GCM sealed PKCS#8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub state: KeyState,
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
    pub previous_state: KeyState,
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
    Gone(KeyState),
    /// The key is active and there is no pending key to promote.
    NoSuccessor,
}

impl Store {
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
    pub async fn key_states(
        &self,
    ) -> Result<Vec<(String, KeyState, i64, Option<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, state, activate_at, retire_at FROM signing_keys \
             WHERE state IN ('pending', 'active', 'retiring')",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut states = rows
            .iter()
            .map(|r| {
                let kid: String = r.try_get("kid")?;
                let state = state_of(r, &kid)?;
                Ok((
                    kid,
                    state,
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
                    .bind(key.state.as_str())
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
        .bind(
            if activate_now {
                KeyState::Active
            } else {
                KeyState::Pending
            }
            .as_str(),
        )
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
        let state = state_of(&row, kid)?;
        let old_activate_at: i64 = row.try_get("activate_at")?;
        if matches!(state, KeyState::Retired | KeyState::Revoked) {
            tx.rollback().await?;
            return Ok(Err(RevokeRefusal::Gone(state)));
        }
        let mut promoted = None;
        if state == KeyState::Active {
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
        let successor = successor.filter(|_| pending_left == 0 && state != KeyState::Retiring);
        let successor_inserted = successor.is_some();
        if let Some(successor) = successor {
            let mut successor = successor.clone();
            if state == KeyState::Pending {
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
    .bind(key.state.as_str())
    .bind(key.bits)
    .bind(&key.n)
    .bind(&key.e)
    .bind(key.private_key.as_deref())
    .bind(key.created_at)
    .bind(key.activate_at)
    .bind(key.retire_at)
    .bind(key.signed_count)
}

fn key_from_row(row: &AnyRow) -> Result<StoredKey, StoreError> {
    let kid: String = row.try_get("kid")?;
    Ok(StoredKey {
        state: state_of(row, &kid)?,
        kid,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_states_read_back_what_they_store() {
        let all = [
            KeyState::Pending,
            KeyState::Active,
            KeyState::Retiring,
            KeyState::Retired,
            KeyState::Revoked,
        ];
        for state in all {
            assert_eq!(KeyState::parse(state.as_str()), Some(state));
            assert_eq!(state.to_string(), state.as_str());
        }
        assert_eq!(KeyState::parse("Active"), None);
        assert_eq!(KeyState::parse(""), None);
        let published: Vec<_> = all.into_iter().filter(|s| s.published()).collect();
        assert_eq!(
            published,
            [KeyState::Pending, KeyState::Active, KeyState::Retiring]
        );
        // Padded like the text it replaces (the CLI's key table).
        assert_eq!(format!("{:<8}|", KeyState::Active), "active  |");
    }
}
