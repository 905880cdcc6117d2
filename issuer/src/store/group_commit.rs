//! SQLite group commit: one writer task that commits the queued refresh
//! rotations in batches.

use sqlx::AnyPool;

use super::StoreError;
use super::audit::OwnedAuditEvent;

/// One refresh rotation, owned so that it can wait in the [`RotationQueue`].
#[derive(Debug)]
pub(super) struct Rotation {
    pub(super) family: String,
    pub(super) parent: String,
    pub(super) child_hash: String,
    pub(super) child_expires_ms: i64,
    pub(super) sealed: Option<Vec<u8>>,
    pub(super) signing_kid: Option<String>,
    pub(super) now_ms: i64,
    pub(super) seal_before_ms: Option<i64>,
    pub(super) audit: OwnedAuditEvent,
}

/// The first statement of a rotation: marks the parent used, naming its
/// successor, if it is still unused, unexpired and in a live family.
/// `false`: it was not, and nothing was written.
pub(super) async fn claim_parent(
    conn: &mut sqlx::AnyConnection,
    r: &Rotation,
) -> Result<bool, StoreError> {
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
pub(super) struct RotationQueue {
    jobs: tokio::sync::mpsc::Sender<(Rotation, RotationReply)>,
}

type RotationReply = tokio::sync::oneshot::Sender<Result<bool, StoreError>>;

impl RotationQueue {
    const MAX_BATCH: usize = 64;

    /// Spawns the writer task; it ends when the last [`Store`](super::Store) clone is gone.
    pub(super) fn start(pool: AnyPool) -> Self {
        let (jobs, queued) = tokio::sync::mpsc::channel(4 * Self::MAX_BATCH);
        tokio::spawn(Self::write(pool, queued));
        RotationQueue { jobs }
    }

    pub(super) async fn rotate(&self, rotation: Rotation) -> Result<bool, StoreError> {
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
