//! Group commit: one writer task that commits queued writes in batches,
//! each batch one transaction and (on SQLite) one fsync. It carries every
//! audit event written through [`Store::audit`](super::Store::audit), on
//! both databases, and on SQLite the refresh rotations, so that SQLite's one
//! writer is never contended by a second.

use sqlx::AnyPool;

use super::StoreError;
use super::audit::OwnedAuditEvent;

/// One refresh rotation, owned so that it can wait in the [`WriteQueue`].
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

/// The rest of the rotations whose parents were claimed: the successors,
/// one multi-row INSERT, and the expired sealed successors of their
/// families dropped. (Their audit events go with the batch's others.)
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
    Ok(())
}

/// Audit events, one multi-row INSERT (atomic on its own, or part of the
/// caller's transaction).
async fn write_events(
    conn: &mut sqlx::AnyConnection,
    events: &[&OwnedAuditEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO audit_events (at, kind, subject, client, ip, request_id, detail) VALUES {}",
        placeholders(events.len(), 7)
    );
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for e in events {
        insert = insert
            .bind(e.at)
            .bind(&e.kind)
            .bind(&e.subject)
            .bind(&e.client)
            .bind(&e.ip)
            .bind(&e.request_id)
            .bind(&e.detail);
    }
    insert.execute(&mut *conn).await?;
    Ok(())
}

/// `($1, $2), ($3, $4)` for `rows` = 2, `columns` = 2.
fn placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 1..=columns {
            if c > 1 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * columns + c).to_string());
        }
        out.push(')');
    }
    out
}

/// One queued write and where its answer goes.
#[derive(Debug)]
enum Job {
    /// A refresh rotation (SQLite only); answers whether it won.
    Rotate(Rotation, Reply<bool>),
    /// An audit event on its own.
    Audit(OwnedAuditEvent, Reply<()>),
}

type Reply<T> = tokio::sync::oneshot::Sender<Result<T, StoreError>>;

impl Job {
    fn event(&self) -> &OwnedAuditEvent {
        match self {
            Job::Rotate(rotation, _) => &rotation.audit,
            Job::Audit(event, _) => event,
        }
    }

    /// Writes this job alone (a batch's fallback when it failed).
    async fn commit_alone(self, pool: &AnyPool) {
        match self {
            Job::Rotate(rotation, reply) => {
                let _ = reply.send(rotate_alone(pool, &rotation).await);
            }
            Job::Audit(event, reply) => {
                let written = async {
                    let mut conn = pool.acquire().await?;
                    write_events(&mut conn, &[&event]).await
                };
                let _ = reply.send(written.await);
            }
        }
    }

    /// Answers with an error like `cause` (which cannot be cloned): the same
    /// text, and still [`StoreError::is_unavailable`].
    fn fail(self, cause: &StoreError) {
        let error = || StoreError::Db(sqlx::Error::Io(std::io::Error::other(cause.to_string())));
        match self {
            Job::Rotate(_, reply) => drop(reply.send(Err(error()))),
            Job::Audit(_, reply) => drop(reply.send(Err(error()))),
        }
    }
}

/// One rotation in its own transaction (the fallback when a batch fails).
async fn rotate_alone(pool: &AnyPool, rotation: &Rotation) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let won = claim_parent(&mut tx, rotation).await?;
    if won {
        write_successors(&mut tx, &[rotation]).await?;
        write_events(&mut tx, &[&rotation.audit]).await?;
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(won)
}

/// Group commit: writes from concurrent requests queue to one task, which
/// commits whatever has queued up (at most [`WriteQueue::MAX_BATCH`]) in one
/// transaction. A batch costs one `BEGIN`, one `COMMIT` and one fsync
/// instead of one each per write, the audit events of a batch are one
/// INSERT, and on SQLite nobody waits in the busy handler (which polls with
/// sleeps of up to 100 ms). Each rotation's conditional update still
/// decides it alone, in queue order, so exactly one of several rotations of
/// one token wins, as before. Every caller is answered only after the
/// commit that holds its write: batching, not fire-and-forget.
#[derive(Debug, Clone)]
pub(super) struct WriteQueue {
    jobs: tokio::sync::mpsc::Sender<Job>,
}

impl WriteQueue {
    const MAX_BATCH: usize = 64;

    /// Spawns the writer task; it ends when the last [`Store`](super::Store) clone is gone.
    pub(super) fn start(pool: AnyPool) -> Self {
        let (jobs, queued) = tokio::sync::mpsc::channel(4 * Self::MAX_BATCH);
        tokio::spawn(Self::write(pool, queued));
        WriteQueue { jobs }
    }

    /// Rotates a refresh token (SQLite's writer); `false`: another use won,
    /// or the token was no longer live.
    pub(super) async fn rotate(&self, rotation: Rotation) -> Result<bool, StoreError> {
        self.submit(|reply| Job::Rotate(rotation, reply)).await
    }

    /// Writes an audit event; returns once it is committed.
    pub(super) async fn audit(&self, event: OwnedAuditEvent) -> Result<(), StoreError> {
        self.submit(|reply| Job::Audit(event, reply)).await
    }

    async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        // The writer only stops when every sender is gone, or the runtime
        // shuts down: then the database is as unavailable as a closed pool.
        let closed = || StoreError::Db(sqlx::Error::PoolClosed);
        self.jobs.send(job(reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn write(pool: AnyPool, mut queued: tokio::sync::mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(Self::MAX_BATCH);
        while queued.recv_many(&mut batch, Self::MAX_BATCH).await > 0 {
            match Self::commit(&pool, &batch).await {
                Ok(won) => {
                    let mut won = won.into_iter();
                    for job in batch.drain(..) {
                        // The caller may have gone (client disconnected).
                        match job {
                            Job::Rotate(_, reply) => {
                                let _ = reply.send(Ok(won.next().unwrap_or(false)));
                            }
                            Job::Audit(_, reply) => {
                                let _ = reply.send(Ok(()));
                            }
                        }
                    }
                }
                // The database is away (no answer from it, not even a busy
                // one): every write of the batch would wait for it again,
                // one after the other. Answer them all.
                Err(e) if e.is_unavailable() && e.code().is_none() => {
                    tracing::warn!(error = %e, writes = batch.len(), "group commit failed");
                    for job in batch.drain(..) {
                        job.fail(&e);
                    }
                }
                // Nothing of the batch was committed: retry each write
                // alone, so one failing write does not fail the others.
                Err(_) => {
                    for job in batch.drain(..) {
                        job.commit_alone(&pool).await;
                    }
                }
            }
        }
    }

    /// Commits one batch; returns whether each rotation won, in order.
    async fn commit(pool: &AnyPool, batch: &[Job]) -> Result<Vec<bool>, StoreError> {
        let rotations: Vec<&Rotation> = batch
            .iter()
            .filter_map(|job| match job {
                Job::Rotate(rotation, _) => Some(rotation),
                Job::Audit(..) => None,
            })
            .collect();
        if rotations.is_empty() {
            // Only audit events: one INSERT is atomic without a transaction.
            let events: Vec<&OwnedAuditEvent> = batch.iter().map(Job::event).collect();
            let mut conn = pool.acquire().await?;
            write_events(&mut conn, &events).await?;
            return Ok(Vec::new());
        }
        let mut tx = pool.begin().await?;
        let mut won = Vec::with_capacity(rotations.len());
        for rotation in &rotations {
            won.push(claim_parent(&mut tx, rotation).await?);
        }
        let claimed: Vec<&Rotation> = rotations
            .iter()
            .zip(&won)
            .filter_map(|(rotation, &won)| won.then_some(*rotation))
            .collect();
        write_successors(&mut tx, &claimed).await?;
        // The audit events of the rotations that won and of everyone else.
        let events: Vec<&OwnedAuditEvent> = batch
            .iter()
            .filter(|job| matches!(job, Job::Audit(..)))
            .map(Job::event)
            .chain(claimed.iter().map(|rotation| &rotation.audit))
            .collect();
        write_events(&mut tx, &events).await?;
        tx.commit().await?;
        Ok(won)
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(placeholders(1, 1), "($1)");
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
