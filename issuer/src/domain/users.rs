//! User accounts: the name and list rules shared by the CLI and the
//! bootstrap file, creating a user (Argon2id hash off the async threads),
//! and disabling or deleting one, which revokes every session (refresh
//! family) of theirs and is audited.

use crate::audit::Audit;
use crate::password::{PasswordError, hash_password};
use crate::store::{Store, StoreError, User};

/// A name or list entry that breaks the rules; the text says which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Why a user was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("user {0:?} already exists")]
    Exists(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user name or client id: 1 to 256 characters, no control characters.
pub fn check_name(what: &str, name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(Invalid(format!(
            "{what} must be 1 to 256 characters without control characters"
        )));
    }
    Ok(())
}

/// Roles, scopes, audiences: 1 to 128 printable ASCII characters each.
pub fn check_list(what: &str, list: &[String]) -> Result<(), Invalid> {
    for item in list {
        if item.is_empty() || item.len() > 128 || !item.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Invalid(format!(
                "{what} {item:?} must be 1 to 128 printable ASCII characters without spaces"
            )));
        }
    }
    Ok(())
}

/// The name and list rules for a user.
pub fn check_user(
    name: &str,
    roles: &[String],
    scopes: Option<&[String]>,
    audiences: Option<&[String]>,
) -> Result<(), Invalid> {
    check_name("user name", name)?;
    check_list("role", roles)?;
    check_list("scope", scopes.unwrap_or_default())?;
    check_list("audience", audiences.unwrap_or_default())
}

/// A user to create; the password is hashed by [`create`].
#[derive(Clone)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    pub roles: Vec<String>,
    pub scopes: Option<Vec<String>>,
    pub audiences: Option<Vec<String>>,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Hashes the password (on the blocking pool) and stores the user, enabled.
pub async fn create(store: &Store, user: NewUser) -> Result<(), CreateError> {
    let password = user.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(password.as_bytes()))
        .await
        .map_err(|_| PasswordError::Task)??;
    let row = User {
        name: user.name.clone(),
        password_hash,
        roles: user.roles,
        scopes: user.scopes,
        audiences: user.audiences,
        disabled: false,
    };
    match store.insert_user(&row).await {
        Err(e) if e.is_unique_violation() => Err(CreateError::Exists(user.name)),
        other => Ok(other?),
    }
}

/// What happens to an account in [`remove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Disable,
    Delete,
}

impl Removal {
    fn reason(self) -> &'static str {
        match self {
            Removal::Disable => "user disabled",
            Removal::Delete => "user deleted",
        }
    }

    fn audit_kind(self) -> &'static str {
        match self {
            Removal::Disable => "user_disabled",
            Removal::Delete => "user_deleted",
        }
    }
}

/// Disables or deletes `name`, then revokes every session of theirs and
/// audits it (actor `by`). Returns the number of sessions revoked, or
/// `None` when there is no such user.
pub async fn remove(
    audit: &Audit<'_>,
    name: &str,
    removal: Removal,
    now_ms: i64,
    by: &str,
) -> Result<Option<u64>, StoreError> {
    let store = audit.store;
    let found = match removal {
        Removal::Delete => store.delete_user(name).await?,
        Removal::Disable => store.set_user_disabled(name, true).await?,
    };
    if !found {
        return Ok(None);
    }
    let revoked = store
        .revoke_user_families(name, now_ms, removal.reason())
        .await?;
    let detail = format!("sessions_revoked={revoked}");
    audit
        .write(removal.audit_kind(), Some(name), Some(by), Some(&detail))
        .await;
    Ok(Some(revoked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lists_follow_the_rules() {
        assert!(check_name("user name", "alice").is_ok());
        assert!(check_name("user name", "").is_err());
        assert!(check_name("user name", "a\nb").is_err());
        assert!(check_list("scope", &["items:read".into()]).is_ok());
        assert!(check_list("scope", &["two words".into()]).is_err());
    }
}
