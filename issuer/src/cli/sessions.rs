//! `issuer sessions list|revoke`: refresh-token families.

use anyhow::bail;
use service_kit::time::rfc3339_relative;

use super::open_store;
use super::table::Table;
use crate::audit::Audit;
use crate::clock::now_ms;
use crate::config::Config;

/// `sessions list [--user NAME]`, newest first.
pub async fn list(user: Option<&str>, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let families = store.list_families(user).await;
    store.close().await;
    let now = now_ms();
    let when = |ms: i64| rfc3339_relative(ms.div_euclid(1000), now.div_euclid(1000));
    let mut table = Table::new(&["FAMILY", "USER", "CLIENT", "CREATED", "LAST_USED", "STATE"]);
    for f in families? {
        let state = f.state(now).to_owned();
        table.row(vec![
            f.id,
            f.subject,
            f.client_id,
            when(f.created_ms),
            when(f.last_used_ms),
            state,
        ]);
    }
    table.write(&mut std::io::stdout().lock())?;
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
