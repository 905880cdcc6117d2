//! The `issuer` command line: the arguments and the dispatch of `serve`,
//! `users add|list|disable|delete` ([`users`]), `clients add|list`
//! ([`clients`]),
//! `keys list|rotate|revoke` ([`keys`]), `sessions list|revoke`
//! ([`sessions`]). Every command works on the store `ISSUER_DATABASE_URL`
//! names and calls the domain ([`crate::domain`]) or the key manager
//! ([`crate::lifecycle::KeyManager`]).

pub mod clients;
pub mod keys;
pub mod sessions;
mod table;
pub mod users;

use std::io::{BufRead as _, Read as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::domain::users::Removal;
use crate::startup::Application;
use crate::store::Store;

pub use clients::ClientAdd;
pub use users::UserAdd;

#[derive(Debug, Parser)]
#[command(
    name = "issuer",
    version,
    about = "OAuth 2.0 token issuer (RS256 access tokens)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (configured by ISSUER_* variables).
    Serve,
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Inspect signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Inspect and revoke sessions (refresh-token families).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Exit 0 if this service's GET /readyz (on ISSUER_LISTEN) answers 200, else 1.
    Healthcheck,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password is read from standard input.
    Add(UserAdd),
    /// List users (no password hashes).
    List,
    /// Disable a user and revoke their sessions.
    Disable { name: String },
    /// Delete a user and revoke their sessions.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List sessions, newest first.
    List {
        /// Only this user's sessions.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a session (every refresh token of the family).
    Revoke {
        /// The family id (base64url, so it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        family_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client. Without --secret-stdin or --public a 256-bit
    /// secret is generated and printed once on standard output.
    Add(ClientAdd),
    /// List clients (no secrets or secret hashes).
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys, their states and times, and the key timings in
    /// force.
    List,
    /// Planned rotation: activate the pending key at the earliest safe time
    /// and create a new pending key.
    Rotate,
    /// Emergency rotation: revoke KID now (out of the JWKS, private key
    /// destroyed, its refresh-token families revoked); if it was active,
    /// promote the pending key now.
    Revoke {
        /// The key's `kid` (base64url, so it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("issuer: {e}");
            return ExitCode::from(2);
        }
    };
    service_kit::telemetry::init(config.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("issuer: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("issuer: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = Application::build(config).await?;
            app.run().await?;
            Ok(())
        }
        Command::Users(UsersCommand::Add(args)) => users::add(args, &config).await,
        Command::Users(UsersCommand::List) => users::list(&config).await,
        Command::Clients(ClientsCommand::Add(args)) => clients::add(args, &config).await,
        Command::Clients(ClientsCommand::List) => clients::list(&config).await,
        Command::Keys(KeysCommand::List) => keys::list(&config).await,
        Command::Keys(KeysCommand::Rotate) => keys::rotate(&config).await,
        Command::Keys(KeysCommand::Revoke { kid }) => keys::revoke(&kid, &config).await,
        Command::Users(UsersCommand::Disable { name }) => {
            users::remove(&name, Removal::Disable, &config).await
        }
        Command::Users(UsersCommand::Delete { name }) => {
            users::remove(&name, Removal::Delete, &config).await
        }
        Command::Sessions(SessionsCommand::List { user }) => {
            sessions::list(user.as_deref(), &config).await
        }
        Command::Sessions(SessionsCommand::Revoke { family_id }) => {
            sessions::revoke(&family_id, &config).await
        }
        Command::Healthcheck => {
            service_kit::healthcheck::check(&config.listen).map_err(anyhow::Error::msg)
        }
    }
}

/// The store for one command: one connection, no waiting for a database
/// that is down (the error says what to check).
pub(crate) async fn open_store(config: &Config) -> Result<Store, crate::store::OpenError> {
    let settings = crate::store::PoolSettings {
        max_connections: 1,
        ..config.pool_settings()
    };
    Store::open(&config.database_url, &settings, std::time::Duration::ZERO).await
}

/// The first line of standard input, without the line ending.
pub(crate) fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .take(64 * 1024)
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    let line = line.trim_end_matches(['\n', '\r']).to_owned();
    if line.is_empty() {
        bail!("no {what} on standard input");
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_that_start_with_a_dash_are_values_not_flags() {
        // A kid or family id is base64url: one in 64 starts with `-`.
        let cli = Cli::try_parse_from(["issuer", "keys", "revoke", "-eAbC"]).unwrap();
        assert!(
            matches!(cli.command, Command::Keys(KeysCommand::Revoke { kid }) if kid == "-eAbC")
        );
        let cli = Cli::try_parse_from(["issuer", "sessions", "revoke", "-x9"]).unwrap();
        assert!(
            matches!(cli.command, Command::Sessions(SessionsCommand::Revoke { family_id }) if family_id == "-x9")
        );
    }
}
