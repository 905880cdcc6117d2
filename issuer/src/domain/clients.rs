//! Client authentication from credentials already taken from the request
//! (id and optional secret): secrets are stored as their SHA-256 and
//! compared in constant time; an unknown client costs the same hashing as a
//! known one. A client without a secret is public and authenticates by id
//! alone.

use aws_lc_rs::digest;
use subtle::ConstantTimeEq as _;

use crate::domain::users::{Invalid, check_list, check_name};
use crate::store::{Client, Store, StoreError};

/// Longest client id looked up.
pub const MAX_CLIENT_ID_LEN: usize = 256;
/// Shortest secret a registered client may have.
pub const MIN_SECRET_LEN: usize = 16;

/// The rules for registering a client (the CLI and the bootstrap file): an
/// id usable in HTTP Basic (no `:`), valid scope and audience lists, and
/// with a secret, one of at least [`MIN_SECRET_LEN`] characters.
pub fn check_client(
    id: &str,
    scopes: &[String],
    audiences: &[String],
    secret: Option<&str>,
) -> Result<(), Invalid> {
    check_name("client id", id)?;
    if id.contains(':') {
        return Err(Invalid(format!(
            "client id {id:?} must not contain ':' (HTTP Basic authentication)"
        )));
    }
    check_list("scope", scopes)?;
    check_list("audience", audiences)?;
    match secret {
        Some(secret) => check_secret(id, secret),
        None => Ok(()),
    }
}

/// A client secret chosen by a person: at least [`MIN_SECRET_LEN`] characters.
pub fn check_secret(id: &str, secret: &str) -> Result<(), Invalid> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(Invalid(format!(
            "client {id:?}: the secret must be at least {MIN_SECRET_LEN} characters"
        )));
    }
    Ok(())
}

/// Why a client was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// Unknown, disabled, wrong secret, or a secret missing for a
    /// confidential client: one answer.
    #[error("client authentication failed")]
    Invalid,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The enabled client `id` if `secret` proves it (or it is public and no
/// secret was given).
pub async fn authenticate(
    store: &Store,
    id: &str,
    secret: Option<&str>,
) -> Result<Client, ClientAuthError> {
    if id.len() > MAX_CLIENT_ID_LEN {
        return Err(ClientAuthError::Invalid);
    }
    let client = store.find_client(id).await?;
    let ok = match (&client, secret) {
        (Some(c), Some(secret)) => match &c.secret_hash {
            Some(stored) => secret_matches(secret, stored),
            None => false,
        },
        (Some(c), None) => c.secret_hash.is_none(),
        (None, Some(secret)) => {
            // Same work as a known client, then refuse.
            let _ = secret_matches(secret, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
            false
        }
        (None, None) => false,
    };
    match client {
        Some(client) if ok && !client.disabled => Ok(client),
        _ => Err(ClientAuthError::Invalid),
    }
}

/// base64url SHA-256 of a client secret, as stored.
pub fn hash_client_secret(secret: &str) -> String {
    shared::b64::encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

/// Compares hashes in constant time.
fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_client_secret(secret);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_hash() {
        let stored = hash_client_secret("s3cret-s3cret-s3cret");
        assert!(secret_matches("s3cret-s3cret-s3cret", &stored));
        assert!(!secret_matches("s3cret-s3cret-s3creT", &stored));
        assert_eq!(stored.len(), 43);
    }
}
