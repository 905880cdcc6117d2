//! The one audit path: every audit event of the crate (token endpoint,
//! refresh rotation, key administration, the CLI) is built by an
//! [`Origin`], logged as one structured `audit` line and written to the
//! `audit_events` table through [`Audit`] (or inside the caller's own
//! transaction, then logged with [`Origin::log`]). [`Audit::record`]
//! returns once the row is committed; concurrent requests' events share
//! one commit (`store::group_commit`), so an audited answer costs no
//! transaction of its own.
//!
//! Never pass a token, password or secret as a field.

use crate::store::{AuditEvent, Store};

/// Where an audited action came from: the peer address and request id of
/// an HTTP request, or nothing (the command line).
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub ip: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl<'a> Origin<'a> {
    /// An event from this origin, for a caller that stores it in its own
    /// transaction and then [`log`](Self::log)s it.
    pub fn event<'b>(
        &self,
        kind: &'b str,
        subject: Option<&'b str>,
        client: Option<&'b str>,
        detail: Option<&'b str>,
    ) -> AuditEvent<'b>
    where
        'a: 'b,
    {
        AuditEvent {
            kind,
            subject,
            client,
            ip: self.ip,
            request_id: self.request_id,
            detail,
        }
    }

    /// Logs an event as a structured line (with the request id).
    pub fn log(&self, event: &AuditEvent<'_>) {
        tracing::info!(
            audit = event.kind,
            subject = event.subject,
            client = event.client,
            detail = event.detail,
            request_id = event.request_id,
            "audit"
        );
    }
}

/// Writes audit events to a store.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    pub store: &'a Store,
    pub origin: Origin<'a>,
}

impl<'a> Audit<'a> {
    pub fn new(store: &'a Store, origin: Origin<'a>) -> Self {
        Audit { store, origin }
    }

    /// Events of the command line: client `cli`, no address, no request id.
    pub fn cli(store: &'a Store) -> Self {
        Audit::new(store, Origin::default())
    }

    /// Logs and stores `event`; a failure to store it is logged, not fatal.
    pub async fn record(&self, event: &AuditEvent<'_>) {
        self.origin.log(event);
        if let Err(e) = self.store.audit(event).await {
            tracing::error!(error = %e, kind = event.kind, "writing audit event failed");
        }
    }

    /// Builds, logs and stores an event.
    pub async fn write(
        &self,
        kind: &str,
        subject: Option<&str>,
        client: Option<&str>,
        detail: Option<&str>,
    ) {
        self.record(&self.origin.event(kind, subject, client, detail))
            .await;
    }
}
