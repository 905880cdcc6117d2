//! Password hashing: Argon2id PHC strings with the argon2 crate's default
//! parameters (m=19456 KiB, t=2, p=1).
//!
//! Hashing and verification run on the blocking pool behind a semaphore, so
//! a burst of logins queues instead of starving the async workers or the
//! machine's memory. Verifying for an unknown user checks a dummy hash made
//! at start-up, so it costs the same as a wrong password.

use std::sync::Arc;

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use tokio::sync::Semaphore;

/// Passwords longer than this are refused before hashing (bytes).
pub const MAX_PASSWORD_LEN: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed")]
    Hash,
    #[error("password hashing task failed")]
    Task,
}

/// Hashes a password with a fresh random salt (synchronous; for the CLI and
/// inside [`Passwords`]).
pub fn hash_password(password: &[u8]) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| PasswordError::Hash)?;
    Argon2::default()
        .hash_password_with_salt(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| PasswordError::Hash)
}

/// Checks `password` against a PHC string; a malformed hash never matches.
pub fn verify_password(password: &[u8], phc: &str) -> bool {
    Argon2::default().verify_password(password, phc).is_ok()
}

/// Bounded, off-thread password verification.
#[derive(Debug, Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// Makes the dummy hash (one Argon2 run) and the semaphore.
    pub fn new(concurrency: usize) -> Result<Self, PasswordError> {
        let mut random = [0u8; 32];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| PasswordError::Hash)?;
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: hash_password(&random)?.into(),
        })
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is no user (then the answer is always `false`).
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Task)?;
        let known = hash.is_some();
        let hash: Arc<str> = match hash {
            Some(h) => h.into(),
            None => self.dummy_hash.clone(),
        };
        let ok = tokio::task::spawn_blocking(move || verify_password(password.as_bytes(), &hash))
            .await
            .map_err(|_| PasswordError::Task)?;
        Ok(ok && known)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let phc = hash_password(b"correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password(b"correct horse", &phc));
        assert!(!verify_password(b"wrong", &phc));
        assert!(!verify_password(b"x", "not a hash"));
    }
}
