//! Key administration shared by `/admin/keys` and `issuer keys`: the key
//! list, a planned rotation and an emergency revocation, each audited
//! (`key_rotated`, `key_revoked`) in the transaction that makes the change.

use shared::admin::{KeyInfo, RevokeResponse, RotateResponse};

use super::{KEY_SYNC_INTERVAL, KeyManager, LifecycleError, rows};
use crate::audit::Origin;
use crate::keys::{KeyError, KeyState};
use crate::store::{AuditEvent, KeyRotation, RevokeRefusal, Store, StoreError, StoredKey};

/// Why a key-administration request changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminOpError {
    #[error("no signing key with kid {0:?}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Failed(#[from] LifecycleError),
}

impl From<StoreError> for AdminOpError {
    fn from(e: StoreError) -> Self {
        AdminOpError::Failed(e.into())
    }
}

impl From<KeyError> for AdminOpError {
    fn from(e: KeyError) -> Self {
        AdminOpError::Failed(e.into())
    }
}

/// Who asked for a key change, for the audit event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Actor<'a> {
    pub subject: Option<&'a str>,
    pub client: Option<&'a str>,
    pub origin: Origin<'a>,
}

impl<'a> Actor<'a> {
    /// The command line.
    pub fn cli() -> Self {
        Actor {
            client: Some("cli"),
            ..Actor::default()
        }
    }

    fn event(&self, kind: &'a str, detail: &'a str) -> AuditEvent<'a> {
        self.origin
            .event(kind, self.subject, self.client, Some(detail))
    }
}

/// Every stored key, newest first, as the admin API and the CLI show it
/// (reads the store only: no KEK needed).
pub async fn key_infos(store: &Store) -> Result<Vec<KeyInfo>, StoreError> {
    let mut rows = store.list_keys().await?;
    rows.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(b.activate_at.cmp(&a.activate_at))
    });
    Ok(rows
        .into_iter()
        .map(|row| KeyInfo {
            published: row.state.published(),
            kid: row.kid,
            state: row.state.as_str().to_owned(),
            created_at: row.created_at,
            activate_at: row.activate_at,
            retire_at: row.retire_at,
            signed_count: row.signed_count,
        })
        .collect())
}

impl KeyManager {
    /// Every stored key, newest first, with this instance's signed-token
    /// counts flushed first.
    pub async fn key_infos(&self) -> Result<Vec<KeyInfo>, StoreError> {
        self.flush_signed_counts().await;
        key_infos(&self.store).await
    }

    /// The pending key (kid, `activate_at`) this instance serves, as
    /// `observed` for [`rotate`](Self::rotate).
    pub fn observed_pending(&self) -> Option<(String, i64)> {
        self.current()
            .entries()
            .iter()
            .filter(|e| e.state == KeyState::Pending)
            .min_by_key(|e| e.activate_at)
            .map(|e| (e.key.kid().to_owned(), e.activate_at))
    }

    /// A planned rotation: the pending key activates at the earliest safe
    /// time (now if it has been published for the pre-publication lead,
    /// else when it has been), the active key then retires after the
    /// retirement delay, and a new pending key is created now.
    ///
    /// `observed` is the pending key (kid, `activate_at`) as the caller's
    /// in-memory key set shows it; the rotation applies only if the store
    /// still agrees, so concurrent requests to several instances rotate
    /// once. `None` (the CLI) takes it from the store. On success this
    /// instance reloads its key set.
    pub async fn rotate(
        &self,
        now: i64,
        observed: Option<(&str, i64)>,
        actor: Actor<'_>,
    ) -> Result<RotateResponse, AdminOpError> {
        let settings = &self.settings_at(now).await?;
        let rows = self.store.list_keys().await?;
        let pending: Vec<&StoredKey> = rows
            .iter()
            .filter(|k| k.state == KeyState::Pending)
            .collect();
        let [candidate] = pending.as_slice() else {
            return Err(match pending.first() {
                None => AdminOpError::Conflict(
                    "there is no pending key to activate; retry in a moment".into(),
                ),
                Some(first) => AdminOpError::Conflict(format!(
                    "a rotation is already under way: pending key {} activates at {}",
                    first.kid, first.activate_at
                )),
            });
        };
        if let Some((kid, at)) = observed
            && (kid != candidate.kid || at != candidate.activate_at)
        {
            return Err(AdminOpError::Conflict(
                "another instance changed the keys at the same time; list them and retry if needed"
                    .into(),
            ));
        }
        let safe_at = now.max(
            candidate
                .created_at
                .saturating_add(rows::secs(settings.prepublish)),
        );
        if candidate.activate_at <= safe_at {
            return Err(AdminOpError::Conflict(format!(
                "pending key {} already activates at {}, no later than a rotation could",
                candidate.kid, candidate.activate_at
            )));
        }
        let active = rows.iter().find(|k| k.state == KeyState::Active);
        let retire_at = safe_at.saturating_add(settings.retire_delay_secs());
        let key = rows::generate(settings).await?;
        let successor = rows::new_row(
            &key,
            &self.kek,
            KeyState::Pending,
            now,
            rows::successor_activation(settings, safe_at, now),
        )?;
        let detail = format!(
            "activating={} activate_at={safe_at} retiring={} successor={}",
            candidate.kid,
            active.map_or("-", |a| a.kid.as_str()),
            successor.kid
        );
        let rotation = KeyRotation {
            pending: &candidate.kid,
            observed_activate_at: candidate.activate_at,
            activate_at: safe_at,
            now,
            retire_at,
        };
        let event = actor.event("key_rotated", &detail);
        if !self
            .store
            .rotate_keys(&rotation, &successor, &event)
            .await?
        {
            return Err(AdminOpError::Conflict(
                "another request rotated the keys at the same time; list them and retry if needed"
                    .into(),
            ));
        }
        actor.origin.log(&event);
        tracing::info!(activating = %candidate.kid, activate_at = safe_at, successor = %successor.kid, "key rotation requested");
        self.reload_after_change(now).await;
        Ok(RotateResponse {
            active_kid: candidate.kid.clone(),
            activate_at: safe_at,
            retiring_kid: active.map(|a| a.kid.clone()),
            retire_at: active.map(|_| retire_at),
            pending_kid: successor.kid,
        })
    }

    /// An emergency rotation: `kid` is revoked now (out of the JWKS, private
    /// key destroyed); if it was active the pending key is promoted now and
    /// a new pending key is created; refresh families with tokens issued
    /// under it are revoked. An active key without a pending successor is
    /// refused (409), as is a key already retired or revoked. On success
    /// this instance reloads its key set.
    pub async fn revoke(
        &self,
        now: i64,
        kid: &str,
        actor: Actor<'_>,
    ) -> Result<RevokeResponse, AdminOpError> {
        let settings = &self.settings_at(now).await?;
        let rows = self.store.list_keys().await?;
        let Some(target) = rows.iter().find(|k| k.kid == kid) else {
            return Err(AdminOpError::NotFound(kid.to_owned()));
        };
        // A replacement pending key, generated outside the transaction; the
        // store inserts it only if no pending key is left.
        let successor = if matches!(target.state, KeyState::Active | KeyState::Pending) {
            let key = rows::generate(settings).await?;
            let at = rows::successor_activation(settings, now, now);
            Some(rows::new_row(&key, &self.kek, KeyState::Pending, now, at)?)
        } else {
            None
        };
        let detail = format!(
            "revoked={kid} successor={}",
            successor.as_ref().map_or("-", |s| s.kid.as_str())
        );
        let event = actor.event("key_revoked", &detail);
        let done = self
            .store
            .revoke_key(kid, now, successor.as_ref(), &event)
            .await?;
        let done = match done {
            Ok(done) => done,
            Err(RevokeRefusal::NotFound) => return Err(AdminOpError::NotFound(kid.to_owned())),
            Err(RevokeRefusal::Gone(state)) => {
                return Err(AdminOpError::Conflict(format!(
                    "key {kid} is already {state}; nothing to revoke"
                )));
            }
            Err(RevokeRefusal::NoSuccessor) => {
                return Err(AdminOpError::Conflict(format!(
                    "key {kid} is the last usable key and has no pending successor; \
                     rotate first or retry once a pending key exists"
                )));
            }
        };
        actor.origin.log(&event);
        self.reload_after_change(now).await;
        // Without a promotion the active key did not change: the set just
        // reloaded names it.
        let active_kid = match &done.promoted {
            Some(promoted) => promoted.clone(),
            None => self.current().active().kid().to_owned(),
        };
        tracing::warn!(
            kid,
            previous_state = %done.previous_state,
            active = %active_kid,
            families = done.families_revoked,
            "signing key revoked"
        );
        Ok(RevokeResponse {
            revoked_kid: kid.to_owned(),
            active_kid,
            pending_kid: successor.filter(|_| done.successor_inserted).map(|s| s.kid),
            refresh_families_revoked: done.families_revoked,
            // Other instances serve the key until their next sync, and a
            // cache filled from them then keeps it for a max-age.
            caches_drop_within: settings.jwks_max_age.as_secs() + KEY_SYNC_INTERVAL.as_secs(),
        })
    }

    /// Serves the change this instance just made; a failure is logged and
    /// left to the scheduler.
    async fn reload_after_change(&self, now: i64) {
        if let Err(e) = self.reload(now).await {
            tracing::error!(error = %e, "reloading keys after an admin change failed; the scheduler retries");
        }
    }
}
