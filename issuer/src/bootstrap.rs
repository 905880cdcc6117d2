//! Demo data: `ISSUER_BOOTSTRAP_FILE` names a JSON file of users and clients
//! that [`apply`] creates at start-up when they do not exist yet. Existing
//! users and clients are left exactly as they are, so restarts are
//! idempotent and changes made with the CLI survive. Passwords are hashed
//! with Argon2id and client secrets like `issuer clients add`, the same
//! rows the CLI writes. The issuer never loads demo data unless the
//! variable is set, and says so loudly in the log when it does.
//!
//! ```json
//! {
//!   "warning": "DEMO ONLY",
//!   "users":   [{"name": "demo", "password": "…", "roles": ["user"], "scopes": ["items:read"]}],
//!   "clients": [{"id": "demo-service", "secret": "…", "scopes": ["items:read"], "audiences": ["orders"]}]
//! }
//! ```
//!
//! A user's `scopes` and `audiences` are optional (omitted: whatever the
//! client may); a client without `secret` is public.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::clients::{check_client, hash_client_secret};
use crate::domain::users::{self, CreateError, NewUser};
use crate::password::{MAX_PASSWORD_LEN, PasswordError};
use crate::store::{Client, Store, StoreError};

/// Why the bootstrap file could not be applied. Messages name the variable
/// and the file, never a password or secret from it.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("ISSUER_BOOTSTRAP_FILE: cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    // serde_json's message can quote a value from the file (a password):
    // only its position and category are reported.
    #[error(
        "ISSUER_BOOTSTRAP_FILE: {path} is not a valid bootstrap file ({kind} error at line {line}, column {column})"
    )]
    Parse {
        path: PathBuf,
        kind: &'static str,
        line: usize,
        column: usize,
    },
    #[error("ISSUER_BOOTSTRAP_FILE: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "warning")]
    _warning: Option<String>,
    #[serde(default)]
    users: Vec<UserEntry>,
    #[serde(default)]
    clients: Vec<ClientEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
    scopes: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    id: String,
    secret: Option<String>,
    scopes: Vec<String>,
    audiences: Vec<String>,
}

/// What [`apply`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    pub users_created: Vec<String>,
    pub clients_created: Vec<String>,
    pub existing: usize,
}

/// Reads and checks the whole file, then creates the users and clients that
/// do not exist yet.
pub async fn apply(store: &Store, path: &Path) -> Result<Applied, BootstrapError> {
    let text = std::fs::read(path).map_err(|source| BootstrapError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: File = serde_json::from_slice(&text).map_err(|e| BootstrapError::Parse {
        path: path.to_owned(),
        kind: match e.classify() {
            serde_json::error::Category::Io => "read",
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "syntax",
            serde_json::error::Category::Data => "content",
        },
        line: e.line(),
        column: e.column(),
    })?;
    validate(&file).map_err(|e| BootstrapError::Invalid(format!("{}: {e}", path.display())))?;

    let mut applied = Applied::default();
    for entry in file.clients {
        if store.find_client(&entry.id).await?.is_some() {
            applied.existing += 1;
            continue;
        }
        let client = Client {
            id: entry.id.clone(),
            secret_hash: entry.secret.as_deref().map(hash_client_secret),
            scopes: entry.scopes,
            audiences: entry.audiences,
            disabled: false,
        };
        match store.insert_client(&client).await {
            // Another instance created it at the same moment.
            Err(e) if e.is_unique_violation() => applied.existing += 1,
            other => {
                other?;
                applied.clients_created.push(entry.id);
            }
        }
    }
    for entry in file.users {
        if store.find_user(&entry.name).await?.is_some() {
            applied.existing += 1;
            continue;
        }
        let user = NewUser {
            name: entry.name.clone(),
            password: entry.password,
            roles: entry.roles,
            scopes: entry.scopes,
            audiences: entry.audiences,
        };
        match users::create(store, user).await {
            Ok(()) => applied.users_created.push(entry.name),
            Err(CreateError::Exists(_)) => applied.existing += 1,
            Err(CreateError::Password(e)) => return Err(e.into()),
            Err(CreateError::Store(e)) => return Err(e.into()),
        }
    }
    tracing::warn!(
        file = %path.display(),
        users_created = ?applied.users_created,
        clients_created = ?applied.clients_created,
        already_present = applied.existing,
        "DEMO DATA LOADED from ISSUER_BOOTSTRAP_FILE: these users and clients have \
         PUBLICLY KNOWN passwords and secrets. Never set ISSUER_BOOTSTRAP_FILE in production."
    );
    Ok(applied)
}

fn validate(file: &File) -> anyhow::Result<()> {
    for user in &file.users {
        users::check_user(
            &user.name,
            &user.roles,
            user.scopes.as_deref(),
            user.audiences.as_deref(),
        )?;
        if user.password.is_empty() || user.password.len() > MAX_PASSWORD_LEN {
            anyhow::bail!(
                "user {:?}: the password must be 1 to {MAX_PASSWORD_LEN} bytes",
                user.name
            );
        }
    }
    for client in &file.clients {
        check_client(
            &client.id,
            &client.scopes,
            &client.audiences,
            client.secret.as_deref(),
        )?;
    }
    Ok(())
}
