//! Client authentication from credentials already taken from the request
//! (id and optional secret): secrets are stored as their SHA-256 and
//! compared in constant time; an unknown client costs the same hashing as a
//! known one. A client without a secret is public and authenticates by id
//! alone.

use aws_lc_rs::digest;
use subtle::ConstantTimeEq as _;

use crate::store::{Client, Store, StoreError};

/// Longest client id looked up.
pub const MAX_CLIENT_ID_LEN: usize = 256;

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
