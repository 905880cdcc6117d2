//! Stored key rows: sealing a new key into a row, opening and checking a
//! stored one, generating keys off the async threads, and the activation
//! time of a new successor.

use std::sync::Arc;

use super::{KeySettings, LifecycleError};
use crate::keys::{Kek, KeyEntry, KeyError, KeyState, SigningKey};
use crate::store::{Store, StoredKey};

/// A row for a freshly generated key, its private key sealed under `kek`.
pub(super) fn new_row(
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
pub(super) async fn load(store: &Store, kek: &Kek) -> Result<Vec<KeyEntry>, LifecycleError> {
    let mut entries = Vec::new();
    for row in store.list_keys().await? {
        if let Some(entry) = open_row(&row, kek)? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// RSA generation takes tens of milliseconds or more: off the async threads.
pub(super) async fn generate(settings: &KeySettings) -> Result<SigningKey, KeyError> {
    let bits = settings.key_bits;
    tokio::task::spawn_blocking(move || SigningKey::generate(bits))
        .await
        .map_err(|_| KeyError::Generate)?
}

/// When a new pending key created at `now` activates: one rotation period
/// after its predecessor's activation, and never before it has been
/// published for the pre-publication lead.
pub(super) fn successor_activation(settings: &KeySettings, predecessor_at: i64, now: i64) -> i64 {
    predecessor_at
        .saturating_add(secs(settings.rotation_period))
        .max(now.saturating_add(secs(settings.prepublish)))
}

pub(super) fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}
