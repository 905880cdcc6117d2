//! `issuer users add|disable|delete`.

use anyhow::bail;
use clap::Args;

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
