//! Key management: [`KeyManager`] owns the store handle, the KEK, the key
//! timings and the in-memory [`KeyRing`] the service signs and publishes
//! with.
//!
//! On first start it creates the active key and a pending successor
//! (activating one rotation period later, so it is published long before the
//! prepublish lead time). On later starts it decrypts the stored keys with
//! the KEK, checks each against its public key and `kid`, and adds a pending
//! successor if none exists.
//!
//! While serving, [`KeyManager::run_scheduler`] carries out due transitions
//! ([`KeyManager::advance`]): pending → active at `activate_at` (the old
//! active key becomes retiring until `retire_at`), retiring → retired with
//! the private key destroyed, and a new pending successor; otherwise it
//! follows changes other instances made ([`KeyManager::sync`]).
//!
//! Every change is scheduled with the timings all instances on the store
//! agree on, not only this process's configuration ([`timings`]).
//!
//! [`KeyManager::rotate`] (a planned rotation) and [`KeyManager::revoke`]
//! (an emergency one, see [`admin`]) are shared by `POST /admin/keys/...`
//! and `issuer keys rotate|revoke`; each is one locked transaction that
//! re-checks the state it acts on, so two instances answering at once
//! cannot create two active or two new pending keys.

pub mod admin;
pub mod kek;
mod rows;
pub mod timings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{Config, KeyBits};
use crate::keys::{Kek, KeyError, KeyRing, KeySet, KeyState};
use crate::store::{Store, StoreError};

pub use admin::{Actor, AdminOpError};
pub use kek::{generated_kek_path, load_kek};

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored key {0} has no private key, or one that does not match its public key")]
    BadRow(String),
    #[error("no usable active key and none could be created")]
    NoActive,
}

/// How often every instance compares the key states in the store with the
/// ones it serves ([`Store::key_states`], one small query, no decryption),
/// so a rotation or revocation made by another instance or the CLI is
/// served here within about this long. Scheduled transitions are carried
/// out on the same tick.
pub const KEY_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// The key timings and size, taken from [`Config`] (and merged with the
/// stored ones before a change, see [`timings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySettings {
    pub key_bits: KeyBits,
    /// When a new pending key activates after its predecessor.
    pub rotation_period: Duration,
    /// How long a pending key is published before it may sign.
    pub prepublish: Duration,
    /// How long a retiring key stays published after its successor activates.
    pub retire_delay: Duration,
    pub jwks_max_age: Duration,
    /// Access-token lifetime (part of the retirement delay).
    pub access_token_ttl: Duration,
    /// Clock leeway and safety margin (part of both).
    pub margin: Duration,
}

impl KeySettings {
    pub fn from_config(config: &Config) -> Self {
        KeySettings {
            key_bits: config.key_bits,
            rotation_period: config.rotation_period,
            prepublish: config.prepublish(),
            retire_delay: config.retire_delay(),
            jwks_max_age: config.jwks_max_age,
            access_token_ttl: config.access_token_ttl,
            margin: config.key_margin,
        }
    }

    /// Seconds a retiring key stays published after its successor activates.
    pub fn retire_delay_secs(&self) -> i64 {
        rows::secs(self.retire_delay)
    }
}

/// The signing keys of one issuer process and every change to them.
#[derive(Debug)]
pub struct KeyManager {
    store: Store,
    kek: Kek,
    settings: KeySettings,
    ring: Arc<KeyRing>,
    /// Tokens signed per kid since the last flush.
    signed: Mutex<HashMap<String, i64>>,
}

impl KeyManager {
    /// Loads the published keys, creating the active key and a pending
    /// successor as needed, and carries out the transitions that fell due
    /// while no instance ran.
    pub async fn start(
        store: Store,
        kek: Kek,
        settings: KeySettings,
        now: i64,
    ) -> Result<Self, LifecycleError> {
        store.record_key_timings(&settings.timings(), now).await?;
        let effective = timings::effective(&store, &settings, now).await?;
        let set = key_set(&store, &kek, &effective, now).await?;
        let manager = KeyManager {
            store,
            kek,
            settings,
            ring: Arc::new(KeyRing::new(set)),
            signed: Mutex::new(HashMap::new()),
        };
        manager.advance(now).await?;
        Ok(manager)
    }

    /// A manager over the keys already in the store, creating none (the
    /// command line: a service creates them on its first start). It does
    /// not record `settings` as an instance's.
    pub async fn open(
        store: Store,
        kek: Kek,
        settings: KeySettings,
    ) -> Result<Self, LifecycleError> {
        let set = KeySet::new(rows::load(&store, &kek).await?).ok_or(LifecycleError::NoActive)?;
        Ok(KeyManager {
            store,
            kek,
            settings,
            ring: Arc::new(KeyRing::new(set)),
            signed: Mutex::new(HashMap::new()),
        })
    }

    /// The served key set (a cheap clone of an `Arc`).
    pub fn current(&self) -> Arc<KeySet> {
        self.ring.current()
    }

    /// The shared key ring.
    pub fn ring(&self) -> &Arc<KeyRing> {
        &self.ring
    }

    /// The key-encryption key (refresh successors are sealed under it too).
    pub fn kek(&self) -> &Kek {
        &self.kek
    }

    /// Carries out every transition due at `now`: a pending key whose
    /// `activate_at` has come becomes active (the active one starts
    /// retiring), retiring keys past `retire_at` are retired and their
    /// private keys destroyed, and a new pending successor is created. Then
    /// the in-memory set is replaced. Each change is one transaction and
    /// safe to race with other instances. Returns whether anything changed.
    pub async fn advance(&self, now: i64) -> Result<bool, LifecycleError> {
        let current = self.current();
        if current.next_transition().is_none_or(|at| at > now) {
            return Ok(false);
        }
        let due = current
            .entries()
            .iter()
            .filter(|e| e.state == KeyState::Pending && e.activate_at <= now)
            .max_by_key(|e| e.activate_at);
        let settings = self.settings_at(now).await?;
        if let Some(pending) = due {
            let retire_at = now + settings.retire_delay_secs();
            if self
                .store
                .activate_key(pending.key.kid(), retire_at)
                .await?
            {
                tracing::info!(kid = pending.key.kid(), retire_at, "signing key activated");
            }
        }
        let retired = self.store.retire_keys(now).await?;
        if retired > 0 {
            tracing::info!(count = retired, "signing keys retired");
        }
        self.reload_with(&settings, now).await?;
        Ok(true)
    }

    /// Reloads the key set when the key states in the store differ from the
    /// served ones (another instance or the CLI changed them). Returns
    /// whether it reloaded.
    pub async fn sync(&self, now: i64) -> Result<bool, LifecycleError> {
        let stored = self.store.key_states().await?;
        if stored == self.current().states() {
            return Ok(false);
        }
        self.reload(now).await?;
        tracing::info!(
            active = self.current().active().kid(),
            "key set changed in the store"
        );
        Ok(true)
    }

    /// Loads the key set from the store (creating a missing active or
    /// pending key) and serves it.
    pub async fn reload(&self, now: i64) -> Result<(), LifecycleError> {
        let settings = self.settings_at(now).await?;
        self.reload_with(&settings, now).await
    }

    async fn reload_with(&self, settings: &KeySettings, now: i64) -> Result<(), LifecycleError> {
        let set = key_set(&self.store, &self.kek, settings, now).await?;
        self.ring.replace(set);
        Ok(())
    }

    /// One scheduler step: [`advance`](Self::advance) when a transition is
    /// due, [`sync`](Self::sync) otherwise.
    pub async fn tick(&self, now: i64) -> Result<(), LifecycleError> {
        match self.advance(now).await {
            Ok(false) => self.sync(now).await.map(|_| ()),
            other => other.map(|_| ()),
        }
    }

    /// Runs [`tick`](Self::tick) every [`KEY_SYNC_INTERVAL`], and confirms
    /// this instance's timings every [`timings::CONFIRM_INTERVAL`]. While
    /// the store is unavailable the step fails; that is logged once when it
    /// starts and once when it ends, and the instance keeps serving the key
    /// set it has.
    pub async fn run_scheduler(self: Arc<Self>) {
        let mut failing_since: Option<std::time::Instant> = None;
        let mut confirmed = std::time::Instant::now();
        loop {
            tokio::time::sleep(KEY_SYNC_INTERVAL).await;
            let now = shared::now_unix();
            let mut result = self.tick(now).await;
            if result.is_ok() && confirmed.elapsed() >= timings::CONFIRM_INTERVAL {
                result = self.confirm_timings(now).await.map_err(Into::into);
                confirmed = std::time::Instant::now();
            }
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

    /// Counts a token signed by `kid` (flushed to the store periodically).
    pub fn count_signed(&self, kid: &str) {
        let mut map = self.signed.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(kid) {
            Some(n) => *n += 1,
            None => {
                map.insert(kid.to_owned(), 1);
            }
        }
    }

    /// Writes the signed-token counters to the store.
    pub async fn flush_signed_counts(&self) {
        let pending: Vec<(String, i64)> = {
            let mut map = self.signed.lock().unwrap_or_else(|p| p.into_inner());
            map.drain().collect()
        };
        for (kid, n) in pending {
            if let Err(e) = self.store.add_signed_count(&kid, n).await {
                tracing::warn!(error = %e, kid, "could not record signed-token count");
            }
        }
    }
}

/// Loads the published keys, creating the active key and a pending
/// successor as needed, and returns the in-memory key set. Creation is one
/// locked transaction that re-checks what exists, so processes starting
/// together on an empty database agree on one active key.
async fn key_set(
    store: &Store,
    kek: &Kek,
    settings: &KeySettings,
    now: i64,
) -> Result<KeySet, LifecycleError> {
    let mut entries = rows::load(store, kek).await?;
    let active_at = entries
        .iter()
        .find(|e| e.state == KeyState::Active)
        .map(|a| a.activate_at);
    let mut new_rows = Vec::new();
    if active_at.is_none() {
        let key = rows::generate(settings).await?;
        new_rows.push(rows::new_row(&key, kek, KeyState::Active, now, now)?);
    }
    if !entries.iter().any(|e| e.state == KeyState::Pending) {
        let activate_at = rows::successor_activation(settings, active_at.unwrap_or(now), now);
        let key = rows::generate(settings).await?;
        new_rows.push(rows::new_row(
            &key,
            kek,
            KeyState::Pending,
            now,
            activate_at,
        )?);
    }
    if !new_rows.is_empty() {
        let inserted = store.insert_missing_keys(&new_rows).await?;
        for row in &new_rows {
            tracing::info!(kid = %row.kid, state = %row.state, bits = row.bits, activate_at = row.activate_at, "created signing key");
        }
        if inserted < new_rows.len() as u64 {
            tracing::info!("another instance created keys at the same time; using the stored ones");
        }
        entries = rows::load(store, kek).await?;
    }
    KeySet::new(entries).ok_or(LifecycleError::NoActive)
}
