//! The `refresh_families` and `refresh_tokens` tables: login sessions and
//! their refresh tokens (hashes only), and the rotation of a token to its
//! successor (on PostgreSQL one statement; on SQLite through the
//! [`group_commit`](super::group_commit) writer).

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row as _};

use super::audit::{AuditEvent, OwnedAuditEvent};
use super::codec::{join, split};
use super::group_commit::Rotation;
use super::users::User;
use super::{Store, StoreError};

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

impl RefreshToken {
    /// Whether it can still be exchanged at `now_ms`: unused, its family not
    /// revoked, and neither its idle nor the family's absolute lifetime over.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.used_ms.is_none()
            && self.family.revoked_ms.is_none()
            && self.expires_ms > now_ms
            && self.family.expires_ms > now_ms
    }
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

impl Store {
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
        if self.sqlite {
            self.writes.rotate(rotation).await
        } else {
            rotate_in_one_statement(&self.pool, &rotation).await
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

/// One rotation as one PostgreSQL statement in an explicit transaction
/// (three round trips instead of five): the same conditional claim of the
/// parent as [`claim_parent`](super::group_commit::claim_parent); only if it claimed a row, the successor
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
        .bind(r.audit.at)
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
