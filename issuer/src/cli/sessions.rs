//! `issuer sessions list|revoke`: refresh-token families.

use std::io::Write as _;

use anyhow::bail;

use super::open_store;
use crate::audit::Audit;
use crate::clock::now_ms;
use crate::config::Config;

/// `sessions list [--user NAME]`, newest first.
pub async fn list(user: Option<&str>, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let families = store.list_families(user).await;
    store.close().await;
    let now = now_ms();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<22}  {:<16}  {:<16}  {:>10}  {:>10}  STATE",
        "FAMILY", "USER", "CLIENT", "CREATED", "LAST_USED"
    )?;
    for f in families? {
        writeln!(
            out,
            "{:<22}  {:<16}  {:<16}  {:>10}  {:>10}  {}",
            f.id,
            f.subject,
            f.client_id,
            f.created_ms / 1000,
            f.last_used_ms / 1000,
            f.state(now)
        )?;
    }
    Ok(())
}

/// `sessions revoke ID`: every refresh token of the family.
pub async fn revoke(family_id: &str, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let result = async {
        let Some(family) = store.find_family(family_id).await? else {
            bail!("no session {family_id:?}");
        };
        if store
            .revoke_family(family_id, now_ms(), "revoked by admin")
            .await?
        {
            let detail = format!("family={family_id}");
            Audit::cli(&store)
                .write(
                    "session_revoked",
                    Some(&family.subject),
                    Some("cli"),
                    Some(&detail),
                )
                .await;
            eprintln!("session {family_id} revoked");
        } else {
            eprintln!("session {family_id} was already revoked");
        }
        Ok(())
    }
    .await;
    store.close().await;
    result
}
