//! `issuer keys list|rotate|revoke`, through the key manager.

use std::io::Write as _;

use super::open_store;
use crate::config::Config;
use crate::lifecycle::{self, Actor, KEY_SYNC_INTERVAL, KeyManager, KeySettings};
use crate::store::Store;

/// `keys list` (the store only; no KEK needed).
pub async fn list(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let keys = lifecycle::admin::key_infos(&store).await;
    store.close().await;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<43}  {:<8}  {:>10}  {:>11}  {:>11}  {:>8}",
        "KID", "STATE", "CREATED", "ACTIVATE_AT", "RETIRE_AT", "SIGNED"
    )?;
    for key in keys? {
        writeln!(
            out,
            "{:<43}  {:<8}  {:>10}  {:>11}  {:>11}  {:>8}",
            key.kid,
            key.state,
            key.created_at,
            key.activate_at,
            key.retire_at
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
            key.signed_count
        )?;
    }
    Ok(())
}

/// The key manager over the stored keys (it creates none).
async fn manager(store: &Store, config: &Config) -> anyhow::Result<KeyManager> {
    let kek = lifecycle::load_kek(config)?;
    Ok(KeyManager::open(store.clone(), kek, KeySettings::from_config(config)).await?)
}

/// `keys rotate`: a planned rotation.
pub async fn rotate(config: &Config) -> anyhow::Result<()> {
    config.validate()?;
    let store = open_store(config).await?;
    let result = async {
        let keys = manager(&store, config).await?;
        let now = shared::now_unix();
        let done = keys.rotate(now, None, Actor::cli()).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "activating {} at {}", done.active_kid, done.activate_at)?;
        if let (Some(kid), Some(at)) = (&done.retiring_kid, done.retire_at) {
            writeln!(out, "retiring {kid} until {at}")?;
        }
        writeln!(out, "new pending key {}", done.pending_kid)?;
        if done.activate_at > now {
            writeln!(
                out,
                "(the pending key has not been published for the full pre-publication lead of {}s yet; running issuers switch at activate_at)",
                config.prepublish().as_secs()
            )?;
        }
        Ok(())
    }
    .await;
    store.close().await;
    result
}

/// `keys revoke KID`: an emergency rotation.
pub async fn revoke(kid: &str, config: &Config) -> anyhow::Result<()> {
    config.validate()?;
    let store = open_store(config).await?;
    let result = async {
        let keys = manager(&store, config).await?;
        let done = keys.revoke(shared::now_unix(), kid, Actor::cli()).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "revoked {}", done.revoked_kid)?;
        writeln!(out, "active key {}", done.active_kid)?;
        if let Some(pending) = &done.pending_kid {
            writeln!(out, "new pending key {pending}")?;
        }
        writeln!(
            out,
            "{} refresh-token session(s) revoked",
            done.refresh_families_revoked
        )?;
        writeln!(
            out,
            "running issuers drop the key within {}s (their key sync), resource services within {}s (that plus the JWKS max-age)",
            KEY_SYNC_INTERVAL.as_secs(),
            done.caches_drop_within
        )?;
        Ok(())
    }
    .await;
    store.close().await;
    result
}
