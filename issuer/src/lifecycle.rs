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
//! key destroyed, and a new pending successor. Emergency revocation and the
//! `issuer keys rotate|revoke` commands come with the admin API.

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::web;

use crate::config::{Config, KekSource};
use crate::keys::{Kek, KeyEntry, KeyError, KeySet, KeyState, SigningKey};
use crate::startup::AppState;
use crate::store::{Store, StoreError, StoredKey};

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
        state: state.as_str().to_owned(),
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
    let state =
        KeyState::parse(&row.state).ok_or_else(|| LifecycleError::BadRow(row.kid.clone()))?;
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

/// Loads the published keys, creating the active key and a pending
/// successor as needed, and returns the in-memory key set.
pub async fn bootstrap(
    store: &Store,
    kek: &Kek,
    config: &Config,
    now: i64,
) -> Result<KeySet, LifecycleError> {
    let period = i64::try_from(config.rotation_period.as_secs()).unwrap_or(30 * 86_400);
    let mut entries = Vec::new();
    for row in store.list_keys().await? {
        if let Some(entry) = open_row(&row, kek)? {
            entries.push(entry);
        }
    }

    let mut new_rows = Vec::new();
    let mut new_entries = Vec::new();
    let active = entries
        .iter()
        .find(|e| e.state == KeyState::Active)
        .cloned();
    let active_at = match &active {
        Some(a) => a.activate_at,
        None => {
            let key = generate(config).await?;
            new_rows.push(new_row(&key, kek, KeyState::Active, now, now)?);
            new_entries.push(KeyEntry {
                key: Arc::new(key),
                state: KeyState::Active,
                activate_at: now,
                retire_at: None,
            });
            now
        }
    };
    if !entries.iter().any(|e| e.state == KeyState::Pending) {
        let prepublish = i64::try_from(config.prepublish().as_secs()).unwrap_or(0);
        let activate_at = (active_at + period).max(now + prepublish);
        let key = generate(config).await?;
        new_rows.push(new_row(&key, kek, KeyState::Pending, now, activate_at)?);
        new_entries.push(KeyEntry {
            key: Arc::new(key),
            state: KeyState::Pending,
            activate_at,
            retire_at: None,
        });
    }
    if !new_rows.is_empty() {
        store.insert_keys(&new_rows).await?;
        for row in &new_rows {
            tracing::info!(kid = %row.kid, state = %row.state, bits = row.bits, activate_at = row.activate_at, "created signing key");
        }
    }
    entries.extend(new_entries);
    KeySet::new(entries).ok_or(LifecycleError::NoActive)
}

/// Seconds a retiring key stays published after its successor activates:
/// the access-token lifetime, a minute of clock leeway and the JWKS max-age
/// (DESIGN "Keys and rotation").
pub fn retire_delay(config: &Config) -> i64 {
    let secs = config.access_token_ttl.as_secs() + 60 + config.jwks_max_age.as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
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

/// Runs [`advance`] whenever a transition is due (checking at least once a
/// minute, so changes made by other instances are picked up too).
pub async fn run_scheduler(state: web::Data<AppState>) {
    loop {
        let now = shared::now_unix();
        let wait = state
            .keys
            .current()
            .next_transition()
            .map_or(60, |at| (at - now).clamp(1, 60));
        tokio::time::sleep(std::time::Duration::from_secs(wait.unsigned_abs())).await;
        let now = shared::now_unix();
        let result = match advance(&state, now).await {
            // Nothing due here; still pick up what other instances changed.
            Ok(false) => reload(&state, now).await,
            other => other.map(|_| ()),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "key lifecycle step failed; retrying");
        }
    }
}

async fn reload(state: &AppState, now: i64) -> Result<(), LifecycleError> {
    let set = bootstrap(&state.store, &state.kek, &state.config, now).await?;
    let changed = {
        let current = state.keys.current();
        current.etag() != set.etag() || current.active().kid() != set.active().kid()
    };
    if changed {
        tracing::info!(active = set.active().kid(), "key set changed in the store");
        state.keys.replace(set);
    }
    Ok(())
}

/// RSA generation takes tens of milliseconds or more: off the async threads.
async fn generate(config: &Config) -> Result<SigningKey, KeyError> {
    let bits = config.key_bits;
    tokio::task::spawn_blocking(move || SigningKey::generate(bits))
        .await
        .map_err(|_| KeyError::Generate)?
}
