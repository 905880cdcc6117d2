//! `issuer keys list|rotate|revoke`, through the key manager, with the key
//! timings the issuers on the database recorded
//! ([`crate::lifecycle::timings`]), not this shell's defaults.

use std::io::Write as _;

use anyhow::Context as _;
use service_kit::time::{rfc3339_relative, span};

use super::open_store;
use super::table::Table;
use crate::config::Config;
use crate::lifecycle::{self, Actor, KEY_SYNC_INTERVAL, KeyManager, KeySettings, timings};
use crate::store::{KeyTimings, Store};

/// What `keys list` says under its SIGNED column.
const SIGNED_NOTE: &str = "* SIGNED: each issuer adds its count once a minute and when it stops, \
                           so running issuers may have signed more";

/// `keys list` (the store only; no KEK needed).
pub async fn list(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let now = shared::now_unix();
    let result = async {
        let keys = lifecycle::admin::key_infos(&store).await?;
        // Shown, not checked against this shell: listing changes nothing.
        let stored = timings::stored(&store, now).await?;
        let settings = resolve(stored, KeySettings::from_config(config));
        anyhow::Ok((keys, settings))
    }
    .await;
    store.close().await;
    let (keys, settings) = result?;
    let when = |at: i64| rfc3339_relative(at, now);
    let mut table = Table::new(&[
        "KID",
        "STATE",
        "CREATED",
        "ACTIVATE_AT",
        "RETIRE_AT",
        "SIGNED*",
    ]);
    for key in keys {
        table.row(vec![
            key.kid,
            key.state,
            when(key.created_at),
            when(key.activate_at),
            key.retire_at.map_or_else(|| "-".to_owned(), when),
            key.signed_count.to_string(),
        ]);
    }
    table.write(&mut std::io::stdout().lock())?;
    eprintln!("{SIGNED_NOTE}");
    eprintln!("{}", describe(&settings));
    Ok(())
}

/// The key timings for a change from this shell: those the issuers on the
/// database recorded, after refusing a variable set here that asks for
/// longer ones; this shell's own only when no issuer has recorded any.
async fn settings(store: &Store, config: &Config, now: i64) -> anyhow::Result<Resolved> {
    let shell = KeySettings::from_config(config);
    let stored = timings::stored(store, now)
        .await
        .context("reading the issuers' key timings")?;
    if let Some(stored) = &stored {
        // Set as `Config::from_env` reads it: present and not blank.
        let is_set = |var: &str| std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
        timings::check_shell(stored, &shell.timings(), is_set)?;
    }
    Ok(resolve(stored, shell))
}

/// `shell` with the `stored` timings, if any.
fn resolve(stored: Option<KeyTimings>, shell: KeySettings) -> Resolved {
    Resolved {
        settings: stored.map_or(shell, |t| shell.with_timings(&t)),
        recorded: stored.is_some(),
    }
}

/// The settings a command works with, and where their timings came from.
#[derive(Debug, Clone, Copy)]
struct Resolved {
    settings: KeySettings,
    /// From the store (else from this shell: no issuer recorded any).
    recorded: bool,
}

/// One line on where the timings come from and what they are.
fn describe(r: &Resolved) -> String {
    let s = &r.settings;
    let source = if r.recorded {
        "recorded by the issuers on this database"
    } else {
        "this shell's settings: no issuer has recorded its timings in this database yet"
    };
    format!(
        "key timings ({source}): pre-publication lead {}, retirement delay {}, JWKS max-age {}",
        span(secs(s.prepublish)),
        span(secs(s.retire_delay)),
        span(secs(s.jwks_max_age)),
    )
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The key manager over the stored keys (it creates none), with `settings`.
async fn manager(
    store: &Store,
    config: &Config,
    settings: KeySettings,
) -> anyhow::Result<KeyManager> {
    let kek = lifecycle::load_kek(config)?;
    Ok(KeyManager::open(store.clone(), kek, settings).await?)
}

/// `keys rotate`: a planned rotation.
pub async fn rotate(config: &Config) -> anyhow::Result<()> {
    config.validate()?;
    let store = open_store(config).await?;
    let result = async {
        let now = shared::now_unix();
        let resolved = settings(&store, config, now).await?;
        let keys = manager(&store, config, resolved.settings).await?;
        let done = keys.rotate(now, None, Actor::cli()).await?;
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "activating {} at {}",
            done.active_kid,
            rfc3339_relative(done.activate_at, now)
        )?;
        if let (Some(kid), Some(at)) = (&done.retiring_kid, done.retire_at) {
            writeln!(out, "retiring {kid} until {}", rfc3339_relative(at, now))?;
        }
        writeln!(out, "new pending key {}", done.pending_kid)?;
        if done.activate_at > now {
            writeln!(
                out,
                "(the pending key has not been published for the full pre-publication lead of {}s yet; running issuers switch at activate_at)",
                resolved.settings.prepublish.as_secs()
            )?;
        }
        out.flush()?;
        eprintln!("{}", describe(&resolved));
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
        let now = shared::now_unix();
        let resolved = settings(&store, config, now).await?;
        let keys = manager(&store, config, resolved.settings).await?;
        let done = keys.revoke(now, kid, Actor::cli()).await?;
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
        out.flush()?;
        eprintln!("{}", describe(&resolved));
        Ok(())
    }
    .await;
    store.close().await;
    result
}
