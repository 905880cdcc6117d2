//! Loading and creating signing keys at start-up.
//!
//! On first start the issuer creates the active key and a pending successor
//! (activating one rotation period later, so it is published long before the
//! prepublish lead time). On later starts it decrypts the stored keys with
//! the KEK, checks each against its public key and `kid`, and adds a pending
//! successor if none exists.
//!
//! While serving, [`run_scheduler`] carries out due transitions
//! ([`advance`]): pending → active at `activate_at` (the old active key
//! becomes retiring until `retire_at`), retiring → retired with the private
//! key destroyed, and a new pending successor.
//!
//! [`rotate`] (a planned rotation) and [`revoke`] (an emergency one) are
//! shared by `POST /admin/keys/...` and `issuer keys rotate|revoke`; each is
//! one locked transaction that re-checks the state it acts on, so two
//! instances answering at once cannot create two active or two new pending
//! keys.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;

use crate::config::{Config, KekSource};
use crate::keys::{Kek, KeyEntry, KeyError, KeySet, KeyState, SigningKey};
use crate::startup::AppState;
use crate::store::{AuditEvent, KeyRotation, RevokeRefusal, Store, StoreError, StoredKey};
use shared::admin::{KeyInfo, RevokeResponse, RotateResponse};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored key {0} has an unknown state or size")]
    BadRow(String),
    #[error("no usable active key and none could be created")]
    NoActive,
}

/// Resolves the configured KEK; creates the file next to the SQLite
/// database when none is configured (with a loud warning).
pub fn load_kek(config: &Config) -> Result<Kek, KeyError> {
    match &config.kek {
        KekSource::Inline(bytes) => Kek::new(bytes.expose()),
        KekSource::File(path) => Ok(Kek::load_or_create_file(path, false)?.0),
        KekSource::Generated => {
            let path = generated_kek_path(config);
            let (kek, created) = Kek::load_or_create_file(&path, true)?;
            if created {
                tracing::warn!(
                    path = %path.display(),
                    "NO KEY-ENCRYPTION KEY CONFIGURED: created a random one in this file (mode 0600). \
                     Private signing keys are encrypted under it; losing it loses the keys. \
                     Set ISSUER_KEK or ISSUER_KEK_FILE in production."
                );
            } else {
                tracing::warn!(
                    path = %path.display(),
                    "using the generated key-encryption key file; set ISSUER_KEK or ISSUER_KEK_FILE in production"
                );
            }
            Ok(kek)
        }
    }
}

/// `<database file>.kek`, or `issuer.kek` for an in-memory database.
pub fn generated_kek_path(config: &Config) -> PathBuf {
    match config.sqlite_path() {
        Some(db) => {
            let mut name = db.into_os_string();
            name.push(".kek");
            PathBuf::from(name)
        }
        None => PathBuf::from("issuer.kek"),
    }
}

fn new_row(
    key: &SigningKey,
    kek: &Kek,
    state: KeyState,
    now: i64,
    activate_at: i64,
) -> Result<StoredKey, KeyError> {
    let jwk = key.jwk();
    let der = key.to_pkcs8()?;
    let sealed = kek.seal(key.kid(), &der)?;
    Ok(StoredKey {
        kid: key.kid().to_owned(),
        state,
        bits: i64::try_from(key.bits()).unwrap_or(0),
        n: jwk.n.clone().unwrap_or_default(),
        e: jwk.e.clone().unwrap_or_default(),
        private_key: Some(sealed),
        created_at: now,
        activate_at,
        retire_at: None,
        signed_count: 0,
    })
}

fn open_row(row: &StoredKey, kek: &Kek) -> Result<Option<KeyEntry>, LifecycleError> {
    let state = row.state;
    if !state.published() {
        return Ok(None);
    }
    let sealed = row
        .private_key
        .as_deref()
        .ok_or_else(|| LifecycleError::BadRow(row.kid.clone()))?;
    let der = kek.open(&row.kid, sealed)?;
    let key = SigningKey::from_pkcs8(&der).map_err(|_| KeyError::Parse {
        kid: row.kid.clone(),
    })?;
    if key.kid() != row.kid || key.jwk().n.as_deref() != Some(row.n.as_str()) {
        return Err(KeyError::Mismatch {
            kid: row.kid.clone(),
        }
        .into());
    }
    Ok(Some(KeyEntry {
        key: Arc::new(key),
        state,
        activate_at: row.activate_at,
        retire_at: row.retire_at,
    }))
}

/// The published keys in the store, decrypted and checked.
async fn load(store: &Store, kek: &Kek) -> Result<Vec<KeyEntry>, LifecycleError> {
    let mut entries = Vec::new();
    for row in store.list_keys().await? {
        if let Some(entry) = open_row(&row, kek)? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Loads the published keys, creating the active key and a pending
/// successor as needed, and returns the in-memory key set. Creation is one
/// locked transaction that re-checks what exists, so processes starting
/// together on an empty database agree on one active key.
pub async fn bootstrap(
    store: &Store,
    kek: &Kek,
    config: &Config,
    now: i64,
) -> Result<KeySet, LifecycleError> {
    let mut entries = load(store, kek).await?;
    let active_at = entries
        .iter()
        .find(|e| e.state == KeyState::Active)
        .map(|a| a.activate_at);
    let mut new_rows = Vec::new();
    if active_at.is_none() {
        let key = generate(config).await?;
        new_rows.push(new_row(&key, kek, KeyState::Active, now, now)?);
    }
    if !entries.iter().any(|e| e.state == KeyState::Pending) {
        let activate_at = successor_activation(config, active_at.unwrap_or(now), now);
        let key = generate(config).await?;
        new_rows.push(new_row(&key, kek, KeyState::Pending, now, activate_at)?);
    }
    if !new_rows.is_empty() {
        let inserted = store.insert_missing_keys(&new_rows).await?;
        for row in &new_rows {
            tracing::info!(kid = %row.kid, state = %row.state, bits = row.bits, activate_at = row.activate_at, "created signing key");
        }
        if inserted < new_rows.len() as u64 {
            tracing::info!("another instance created keys at the same time; using the stored ones");
        }
        entries = load(store, kek).await?;
    }
    KeySet::new(entries).ok_or(LifecycleError::NoActive)
}

/// When a new pending key created at `now` activates: one rotation period
/// after its predecessor's activation, and never before it has been
/// published for the pre-publication lead.
fn successor_activation(config: &Config, predecessor_at: i64, now: i64) -> i64 {
    predecessor_at
        .saturating_add(secs(config.rotation_period))
        .max(now.saturating_add(secs(config.prepublish())))
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// Seconds a retiring key stays published after its successor activates
/// ([`Config::retire_delay`]).
pub fn retire_delay(config: &Config) -> i64 {
    secs(config.retire_delay())
}

/// Carries out every transition due at `now`: a pending key whose
/// `activate_at` has come becomes active (the active one starts retiring),
/// retiring keys past `retire_at` are retired and their private keys
/// destroyed, and a new pending successor is created. Then the in-memory set
/// is replaced. Each change is one transaction and safe to race with other
/// instances. Returns whether anything changed.
pub async fn advance(state: &AppState, now: i64) -> Result<bool, LifecycleError> {
    let current = state.keys.current();
    if current.next_transition().is_none_or(|at| at > now) {
        return Ok(false);
    }
    let due = current
        .entries()
        .iter()
        .filter(|e| e.state == KeyState::Pending && e.activate_at <= now)
        .max_by_key(|e| e.activate_at);
    if let Some(pending) = due {
        let retire_at = now + retire_delay(&state.config);
        if state
            .store
            .activate_key(pending.key.kid(), retire_at)
            .await?
        {
            tracing::info!(kid = pending.key.kid(), retire_at, "signing key activated");
        }
    }
    let retired = state.store.retire_keys(now).await?;
    if retired > 0 {
        tracing::info!(count = retired, "signing keys retired");
    }
    let set = bootstrap(&state.store, &state.kek, &state.config, now).await?;
    state.keys.replace(set);
    Ok(true)
}

/// How often every instance compares the key states in the store with the
/// ones it serves ([`Store::key_states`], one small query, no decryption),
/// so a rotation or revocation made by another instance or the CLI is
/// served here within about this long. Scheduled transitions are carried
/// out on the same tick.
pub const KEY_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs [`advance`] when a transition is due and [`sync`] otherwise, every
/// [`KEY_SYNC_INTERVAL`]. While the store is unavailable the step fails;
/// that is logged once when it starts and once when it ends, and the
/// instance keeps serving the key set it has.
pub async fn run_scheduler(state: web::Data<AppState>) {
    let mut failing_since: Option<std::time::Instant> = None;
    loop {
        tokio::time::sleep(KEY_SYNC_INTERVAL).await;
        let now = shared::now_unix();
        let result = match advance(&state, now).await {
            Ok(false) => sync(&state, now).await.map(|_| ()),
            other => other.map(|_| ()),
        };
        match (result, failing_since) {
            (Err(e), None) => {
                tracing::error!(error = %e, "key lifecycle step failed; serving the keys loaded before and retrying every second");
                failing_since = Some(std::time::Instant::now());
            }
            (Ok(()), Some(since)) => {
                tracing::info!(
                    after_ms = since.elapsed().as_millis() as u64,
                    "key lifecycle steps succeed again"
                );
                failing_since = None;
            }
            _ => {}
        }
    }
}

/// Reloads the key set when the key states in the store differ from the
/// served ones (another instance or the CLI changed them). Returns whether
/// it reloaded.
pub async fn sync(state: &AppState, now: i64) -> Result<bool, LifecycleError> {
    let stored = state.store.key_states().await?;
    if stored == state.keys.current().states() {
        return Ok(false);
    }
    let set = bootstrap(&state.store, &state.kek, &state.config, now).await?;
    tracing::info!(active = set.active().kid(), "key set changed in the store");
    state.keys.replace(set);
    Ok(true)
}

/// RSA generation takes tens of milliseconds or more: off the async threads.
async fn generate(config: &Config) -> Result<SigningKey, KeyError> {
    let bits = config.key_bits;
    tokio::task::spawn_blocking(move || SigningKey::generate(bits))
        .await
        .map_err(|_| KeyError::Generate)?
}

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
    pub ip: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl<'a> Actor<'a> {
    fn event(&self, kind: &'a str, detail: &'a str) -> AuditEvent<'a> {
        AuditEvent {
            kind,
            subject: self.subject,
            client: self.client,
            ip: self.ip,
            request_id: self.request_id,
            detail: Some(detail),
        }
    }
}

/// Every stored key, newest first, as the admin API and the CLI show it.
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

/// A planned rotation: the pending key activates at the earliest safe time
/// (now if it has been published for the pre-publication lead, else when it
/// has been), the active key then retires after [`retire_delay`], and a new
/// pending key is created now.
///
/// `observed` is the pending key (kid, `activate_at`) as the caller's
/// in-memory key set shows it; the rotation applies only if the store still
/// agrees, so concurrent requests to several instances rotate once. `None`
/// (the CLI) takes it from the store.
pub async fn rotate(
    store: &Store,
    kek: &Kek,
    config: &Config,
    now: i64,
    observed: Option<(&str, i64)>,
    actor: Actor<'_>,
) -> Result<RotateResponse, AdminOpError> {
    let rows = store.list_keys().await?;
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
            .saturating_add(secs(config.prepublish())),
    );
    if candidate.activate_at <= safe_at {
        return Err(AdminOpError::Conflict(format!(
            "pending key {} already activates at {}, no later than a rotation could",
            candidate.kid, candidate.activate_at
        )));
    }
    let active = rows.iter().find(|k| k.state == KeyState::Active);
    let retire_at = safe_at.saturating_add(retire_delay(config));
    let key = generate(config).await?;
    let successor = new_row(
        &key,
        kek,
        KeyState::Pending,
        now,
        successor_activation(config, safe_at, now),
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
    if !store
        .rotate_keys(&rotation, &successor, &actor.event("key_rotated", &detail))
        .await?
    {
        return Err(AdminOpError::Conflict(
            "another request rotated the keys at the same time; list them and retry if needed"
                .into(),
        ));
    }
    tracing::info!(activating = %candidate.kid, activate_at = safe_at, successor = %successor.kid, "key rotation requested");
    Ok(RotateResponse {
        active_kid: candidate.kid.clone(),
        activate_at: safe_at,
        retiring_kid: active.map(|a| a.kid.clone()),
        retire_at: active.map(|_| retire_at),
        pending_kid: successor.kid,
    })
}

/// An emergency rotation: `kid` is revoked now (out of the JWKS, private key
/// destroyed); if it was active the pending key is promoted now and a new
/// pending key is created; refresh families with tokens issued under it are
/// revoked. An active key without a pending successor is refused (409), as
/// is a key already retired or revoked.
pub async fn revoke(
    store: &Store,
    kek: &Kek,
    config: &Config,
    now: i64,
    kid: &str,
    actor: Actor<'_>,
) -> Result<RevokeResponse, AdminOpError> {
    let rows = store.list_keys().await?;
    let Some(target) = rows.iter().find(|k| k.kid == kid) else {
        return Err(AdminOpError::NotFound(kid.to_owned()));
    };
    // A replacement pending key, generated outside the transaction; the
    // store inserts it only if no pending key is left.
    let successor = if matches!(target.state, KeyState::Active | KeyState::Pending) {
        let key = generate(config).await?;
        let at = successor_activation(config, now, now);
        Some(new_row(&key, kek, KeyState::Pending, now, at)?)
    } else {
        None
    };
    let detail = format!(
        "revoked={kid} successor={}",
        successor.as_ref().map_or("-", |s| s.kid.as_str())
    );
    let done = store
        .revoke_key(
            kid,
            now,
            successor.as_ref(),
            &actor.event("key_revoked", &detail),
        )
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
    let active_kid = match &done.promoted {
        Some(promoted) => promoted.clone(),
        None => store
            .list_keys()
            .await?
            .into_iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.kid)
            .unwrap_or_default(),
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
        // Other instances serve the key until their next sync, and a cache
        // filled from them then keeps it for a max-age.
        caches_drop_within: config.jwks_max_age.as_secs() + KEY_SYNC_INTERVAL.as_secs(),
    })
}
