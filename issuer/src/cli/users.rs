//! `issuer users add|list|disable|delete`.

use anyhow::bail;
use clap::Args;

use service_kit::time::rfc3339_relative;

use super::table::{self, Table};
use super::{open_store, read_stdin_line};
use crate::audit::Audit;
use crate::config::Config;
use crate::domain::users::{self, CreateError, NewUser, Removal};
use crate::password::MAX_PASSWORD_LEN;

#[derive(Debug, Args)]
pub struct UserAdd {
    pub name: String,
    /// Roles (repeat the flag or separate with commas).
    #[arg(long = "role", num_args = 1.., value_delimiter = ',')]
    pub roles: Vec<String>,
    /// Scopes this user may receive; omitted: whatever the client may.
    #[arg(long = "scope", num_args = 1.., value_delimiter = ',')]
    pub scopes: Option<Vec<String>>,
    /// Audiences this user may receive; omitted: whatever the client may.
    #[arg(long = "audience", num_args = 1.., value_delimiter = ',')]
    pub audiences: Option<Vec<String>>,
    /// Read the password from the first line of standard input (required).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

/// `users add`: the password comes from standard input.
pub async fn add(args: UserAdd, config: &Config) -> anyhow::Result<()> {
    users::check_user(
        &args.name,
        &args.roles,
        args.scopes.as_deref(),
        args.audiences.as_deref(),
    )?;
    let password = read_stdin_line("password")?;
    if password.len() > MAX_PASSWORD_LEN {
        bail!("the password is longer than {MAX_PASSWORD_LEN} bytes");
    }
    let store = open_store(config).await?;
    let user = NewUser {
        name: args.name.clone(),
        password,
        roles: args.roles,
        scopes: args.scopes,
        audiences: args.audiences,
    };
    let result = users::create(&store, user).await;
    store.close().await;
    match result {
        Err(e @ CreateError::Exists(_)) => bail!("{e}"),
        other => other?,
    }
    eprintln!("user {:?} added", args.name);
    Ok(())
}

/// `users disable` / `users delete`: then every session of theirs is
/// revoked.
pub async fn remove(name: &str, removal: Removal, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let audit = Audit::cli(&store);
    let result = users::remove(&audit, name, removal, crate::clock::now_ms(), "cli").await;
    store.close().await;
    let Some(revoked) = result? else {
        bail!("no user {name:?}");
    };
    let done = match removal {
        Removal::Disable => "disabled",
        Removal::Delete => "deleted",
    };
    eprintln!("user {name:?} {done}; {revoked} session(s) revoked");
    Ok(())
}

/// `users list`: every user, by name (no password hashes).
pub async fn list(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let users = store.list_users().await;
    store.close().await;
    let now = shared::now_unix();
    let limited = |list: Option<Vec<String>>| {
        list.map_or_else(|| "(client's)".to_owned(), |l| table::list(&l))
    };
    let mut out = Table::new(&["NAME", "STATE", "ROLES", "SCOPES", "AUDIENCES", "CREATED"]);
    for user in users? {
        out.row(vec![
            user.name,
            if user.disabled { "disabled" } else { "enabled" }.to_owned(),
            table::list(&user.roles),
            limited(user.scopes),
            limited(user.audiences),
            rfc3339_relative(user.created_at, now),
        ]);
    }
    out.write(&mut std::io::stdout().lock())?;
    Ok(())
}
