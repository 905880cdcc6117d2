//! `issuer clients add|list`.

use std::io::Write as _;

use anyhow::bail;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use clap::Args;

use service_kit::time::rfc3339_relative;

use super::table::{self, Table};
use super::{open_store, read_stdin_line};
use crate::config::Config;
use crate::domain::clients::{check_client, check_secret, hash_client_secret};
use crate::store::Client;

#[derive(Debug, Args)]
pub struct ClientAdd {
    pub id: String,
    #[arg(long = "scope", num_args = 1.., value_delimiter = ',')]
    pub scopes: Vec<String>,
    #[arg(long = "audience", num_args = 1.., value_delimiter = ',')]
    pub audiences: Vec<String>,
    /// Read the secret from the first line of standard input.
    #[arg(long, conflicts_with = "public")]
    pub secret_stdin: bool,
    /// A public client: no secret, password grant only.
    #[arg(long)]
    pub public: bool,
}

/// `clients add`: a generated secret is printed once on standard output.
pub async fn add(args: ClientAdd, config: &Config) -> anyhow::Result<()> {
    check_client(&args.id, &args.scopes, &args.audiences, None)?;
    let (secret, generated) = if args.public {
        (None, false)
    } else if args.secret_stdin {
        let secret = read_stdin_line("client secret")?;
        check_secret(&args.id, &secret)?;
        (Some(secret), false)
    } else {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("random generator failed"))?;
        (Some(shared::b64::encode(bytes)), true)
    };
    let store = open_store(config).await?;
    let client = Client {
        id: args.id.clone(),
        secret_hash: secret.as_deref().map(hash_client_secret),
        scopes: args.scopes,
        audiences: args.audiences,
        disabled: false,
    };
    let result = store.insert_client(&client).await;
    store.close().await;
    match result {
        Err(e) if e.is_unique_violation() => bail!("client {:?} already exists", args.id),
        other => other?,
    }
    eprintln!("client {:?} added", args.id);
    if let (Some(secret), true) = (secret, generated) {
        eprintln!("client secret (shown once; only its hash is stored):");
        let mut out = std::io::stdout().lock();
        writeln!(out, "{secret}")?;
        out.flush()?;
    }
    Ok(())
}

/// `clients list`: every client, by id (no secrets or hashes).
pub async fn list(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let clients = store.list_clients().await;
    store.close().await;
    let now = shared::now_unix();
    let mut out = Table::new(&["ID", "TYPE", "STATE", "SCOPES", "AUDIENCES", "CREATED"]);
    for client in clients? {
        out.row(vec![
            client.id,
            if client.public {
                "public"
            } else {
                "confidential"
            }
            .to_owned(),
            if client.disabled {
                "disabled"
            } else {
                "enabled"
            }
            .to_owned(),
            table::list(&client.scopes),
            table::list(&client.audiences),
            rfc3339_relative(client.created_at, now),
        ]);
    }
    out.write(&mut std::io::stdout().lock())?;
    Ok(())
}
