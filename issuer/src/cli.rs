//! The `issuer` command line: `serve`, `users add|disable|delete`,
//! `clients add`, `keys list|rotate|revoke`, `sessions list|revoke`. Every command works on
//! the store `ISSUER_DATABASE_URL` names.

use std::io::{BufRead as _, Read as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::password::{MAX_PASSWORD_LEN, hash_password};
use crate::routes::token::hash_client_secret;
use crate::startup::Application;
use crate::store::{AuditEvent, Client, Store, User, now_ms};

#[derive(Debug, Parser)]
#[command(
    name = "issuer",
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
    Revoke { family_id: String },
}

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

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client. Without --secret-stdin or --public a 256-bit
    /// secret is generated and printed once on standard output.
    Add(ClientAdd),
}

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

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their states.
    List,
    /// Planned rotation: activate the pending key at the earliest safe time
    /// and create a new pending key.
    Rotate,
    /// Emergency rotation: revoke KID now (out of the JWKS, private key
    /// destroyed, its refresh-token families revoked); if it was active,
    /// promote the pending key now.
    Revoke { kid: String },
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
    shared::telemetry::init(config.log_json);
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
        Command::Users(UsersCommand::Add(args)) => users_add(args, &config).await,
        Command::Clients(ClientsCommand::Add(args)) => clients_add(args, &config).await,
        Command::Keys(KeysCommand::List) => keys_list(&config).await,
        Command::Keys(KeysCommand::Rotate) => keys_rotate(&config).await,
        Command::Keys(KeysCommand::Revoke { kid }) => keys_revoke(&kid, &config).await,
        Command::Users(UsersCommand::Disable { name }) => user_off(&name, false, &config).await,
        Command::Users(UsersCommand::Delete { name }) => user_off(&name, true, &config).await,
        Command::Sessions(SessionsCommand::List { user }) => {
            sessions_list(user.as_deref(), &config).await
        }
        Command::Sessions(SessionsCommand::Revoke { family_id }) => {
            sessions_revoke(&family_id, &config).await
        }
        Command::Healthcheck => {
            shared::healthcheck::check(&config.listen).map_err(anyhow::Error::msg)
        }
    }
}

/// The store for one command: one connection, no waiting for a database
/// that is down (the error says what to check).
async fn open_store(config: &Config) -> Result<Store, crate::store::OpenError> {
    let settings = crate::store::PoolSettings {
        max_connections: 1,
        ..config.pool_settings()
    };
    Store::open(&config.database_url, &settings, std::time::Duration::ZERO).await
}

/// Writes an audit event for an admin action (actor: the command line).
async fn audit_cli(store: &Store, kind: &str, subject: &str, detail: Option<&str>) {
    let event = AuditEvent {
        kind,
        subject: Some(subject),
        client: Some("cli"),
        detail,
        ..AuditEvent::default()
    };
    if let Err(e) = store.audit(&event).await {
        tracing::error!(error = %e, kind, "writing audit event failed");
    }
    tracing::info!(audit = kind, subject, detail, "audit");
}

/// Disables (or deletes) a user, then revokes every session of theirs.
async fn user_off(name: &str, delete: bool, config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let result = async {
        let found = if delete {
            store.delete_user(name).await?
        } else {
            store.set_user_disabled(name, true).await?
        };
        if !found {
            bail!("no user {name:?}");
        }
        let reason = if delete {
            "user deleted"
        } else {
            "user disabled"
        };
        let revoked = store.revoke_user_families(name, now_ms(), reason).await?;
        let kind = if delete {
            "user_deleted"
        } else {
            "user_disabled"
        };
        let detail = format!("sessions_revoked={revoked}");
        audit_cli(&store, kind, name, Some(&detail)).await;
        eprintln!(
            "user {name:?} {}; {revoked} session(s) revoked",
            if delete { "deleted" } else { "disabled" }
        );
        Ok(())
    }
    .await;
    store.close().await;
    result
}

async fn sessions_list(user: Option<&str>, config: &Config) -> anyhow::Result<()> {
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

async fn sessions_revoke(family_id: &str, config: &Config) -> anyhow::Result<()> {
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
            audit_cli(&store, "session_revoked", &family.subject, Some(&detail)).await;
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

pub(crate) fn check_name(what: &str, name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        bail!("{what} must be 1 to 256 characters without control characters");
    }
    Ok(())
}

pub(crate) fn check_list(what: &str, list: &[String]) -> anyhow::Result<()> {
    for item in list {
        if item.is_empty() || item.len() > 128 || !item.chars().all(|c| c.is_ascii_graphic()) {
            bail!("{what} {item:?} must be 1 to 128 printable ASCII characters without spaces");
        }
    }
    Ok(())
}

/// The first line of standard input, without the line ending.
fn read_stdin_line(what: &str) -> anyhow::Result<String> {
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

async fn users_add(args: UserAdd, config: &Config) -> anyhow::Result<()> {
    check_name("user name", &args.name)?;
    check_list("role", &args.roles)?;
    check_list("scope", args.scopes.as_deref().unwrap_or_default())?;
    check_list("audience", args.audiences.as_deref().unwrap_or_default())?;
    let password = read_stdin_line("password")?;
    if password.len() > MAX_PASSWORD_LEN {
        bail!("the password is longer than {MAX_PASSWORD_LEN} bytes");
    }
    let password_hash = tokio::task::spawn_blocking(move || hash_password(password.as_bytes()))
        .await
        .context("hashing the password")??;
    let store = open_store(config).await?;
    let user = User {
        name: args.name.clone(),
        password_hash,
        roles: args.roles,
        scopes: args.scopes,
        audiences: args.audiences,
        disabled: false,
    };
    let result = store.insert_user(&user).await;
    store.close().await;
    match result {
        Err(e) if e.is_unique_violation() => bail!("user {:?} already exists", args.name),
        other => other?,
    }
    eprintln!("user {:?} added", args.name);
    Ok(())
}

async fn clients_add(args: ClientAdd, config: &Config) -> anyhow::Result<()> {
    check_name("client id", &args.id)?;
    if args.id.contains(':') {
        bail!("client id must not contain ':' (HTTP Basic authentication)");
    }
    check_list("scope", &args.scopes)?;
    check_list("audience", &args.audiences)?;
    let (secret, generated) = if args.public {
        (None, false)
    } else if args.secret_stdin {
        let secret = read_stdin_line("client secret")?;
        if secret.len() < 16 {
            bail!("the client secret must be at least 16 characters");
        }
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

async fn keys_list(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let keys = crate::lifecycle::key_infos(&store).await;
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

fn cli_actor() -> crate::lifecycle::Actor<'static> {
    crate::lifecycle::Actor {
        client: Some("cli"),
        ..Default::default()
    }
}

async fn keys_rotate(config: &Config) -> anyhow::Result<()> {
    config.validate()?;
    let store = open_store(config).await?;
    let result = async {
        let kek = crate::lifecycle::load_kek(config)?;
        let now = shared::now_unix();
        let done =
            crate::lifecycle::rotate(&store, &kek, config, now, None, cli_actor()).await?;
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

async fn keys_revoke(kid: &str, config: &Config) -> anyhow::Result<()> {
    config.validate()?;
    let store = open_store(config).await?;
    let result = async {
        let kek = crate::lifecycle::load_kek(config)?;
        let done = crate::lifecycle::revoke(
            &store,
            &kek,
            config,
            shared::now_unix(),
            kid,
            cli_actor(),
        )
        .await?;
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
            crate::lifecycle::KEY_SYNC_INTERVAL.as_secs(),
            done.caches_drop_within
        )?;
        Ok(())
    }
    .await;
    store.close().await;
    result
}
