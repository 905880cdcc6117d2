//! The `audit_events` table: one row per security-relevant event.

use sqlx::{Any, Row as _};

use super::{Store, StoreError};

/// One audit record. Never holds a secret.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent<'a> {
    pub kind: &'a str,
    pub subject: Option<&'a str>,
    pub client: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// An [`AuditEvent`] that owns its text and its time, to be written later
/// (by the group-commit writer or the PostgreSQL one-statement rotation).
#[derive(Debug)]
pub(super) struct OwnedAuditEvent {
    /// When it happened, Unix seconds.
    pub(super) at: i64,
    pub(super) kind: String,
    pub(super) subject: Option<String>,
    pub(super) client: Option<String>,
    pub(super) ip: Option<String>,
    pub(super) request_id: Option<String>,
    pub(super) detail: Option<String>,
}

impl From<&AuditEvent<'_>> for OwnedAuditEvent {
    fn from(e: &AuditEvent<'_>) -> Self {
        let own = |v: Option<&str>| v.map(str::to_owned);
        OwnedAuditEvent {
            at: shared::now_unix(),
            kind: e.kind.to_owned(),
            subject: own(e.subject),
            client: own(e.client),
            ip: own(e.ip),
            request_id: own(e.request_id),
            detail: own(e.detail),
        }
    }
}

impl Store {
    /// Writes `event`, committed in a group with the events (and on SQLite
    /// the refresh rotations) of concurrent requests; returns once the
    /// commit that holds it is done (see [`WriteQueue`](super::group_commit::WriteQueue)).
    pub async fn audit(&self, event: &AuditEvent<'_>) -> Result<(), StoreError> {
        self.writes.audit(OwnedAuditEvent::from(event)).await
    }

    /// Audit events of one kind, newest first (for tests and tooling).
    pub async fn audit_kinds(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        let rows = sqlx::query("SELECT kind, subject FROM audit_events ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("subject")?)))
            .collect()
    }
}

/// The INSERT of one event, for a caller's own transaction (key changes).
pub(super) fn audit_query<'q>(
    event: &AuditEvent<'q>,
) -> sqlx::query::Query<'q, Any, <Any as sqlx::Database>::Arguments> {
    sqlx::query(
        "INSERT INTO audit_events (at, kind, subject, client, ip, request_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(shared::now_unix())
    .bind(event.kind)
    .bind(event.subject)
    .bind(event.client)
    .bind(event.ip)
    .bind(event.request_id)
    .bind(event.detail)
}
