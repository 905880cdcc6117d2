//! Password hashing: Argon2id PHC strings with the argon2 crate's default
//! parameters (m=19456 KiB, t=2, p=1: OWASP's minimum for Argon2id).
//!
//! Logins are verified by a fixed pool ([`Passwords`], in `pool`): one
//! worker thread per concurrent job, each owning one reusable set of Argon2
//! memory blocks ([`MEMORY_COST`] bytes), so the memory for password checks
//! is at most `ISSUER_PASSWORD_HASH_CONCURRENCY` × 19 MiB under any flood.
//! A job waits in a bounded queue for a worker; a full queue or a wait
//! longer than the timeout is [`PasswordError::Busy`] (answered 503).
//! Verifying for an unknown user checks a dummy hash made at start-up, so
//! it costs the same as a wrong password.
//!
//! Stored hashes with other parameters still verify (other Argon2 variants,
//! version 0x10, other time costs, lanes or output lengths) as long as they
//! fit into the pooled blocks, that is with a memory cost of at most
//! 19456 KiB. A hash that needs more memory never matches: it is refused
//! with a warning in the log (give the user a new password: `issuer users
//! delete` and `users add`), rather than allocating memory a flood could
//! multiply.
//!
//! [`hash_password`] (the CLI, user creation) allocates its own blocks for
//! the one hash it makes.

mod pool;

pub use pool::{Limits, Passwords};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use subtle::ConstantTimeEq as _;

/// Passwords longer than this are refused before hashing (bytes).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The parameters of new hashes.
const PARAMS: Params = Params::DEFAULT;

/// Argon2 blocks (1 KiB each) of one job: what the pool holds per worker.
const BLOCKS: usize = PARAMS.block_count();

/// The memory one password check uses, in bytes (19 MiB).
pub const MEMORY_COST: usize = BLOCKS * Block::SIZE;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed")]
    Hash,
    #[error("password hashing task failed")]
    Task,
    /// Every worker is taken and the queue is full, or the job waited
    /// longer than the queue timeout.
    #[error("password checks are saturated")]
    Busy,
}

/// The memory blocks of one job.
fn new_blocks() -> Vec<Block> {
    vec![Block::default(); BLOCKS]
}

/// Hashes a password with a fresh random salt (synchronous; for the CLI and
/// user creation). Allocates the job's memory for this one hash.
pub fn hash_password(password: &[u8]) -> Result<String, PasswordError> {
    hash_into(password, &mut new_blocks())
}

/// Hashes a password with a fresh random salt into `blocks` (at least
/// [`BLOCKS`] long): a PHC string with [`PARAMS`].
fn hash_into(password: &[u8], blocks: &mut [Block]) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| PasswordError::Hash)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
        .hash_password_into_with_memory(password, &salt, &mut out, blocks)
        .map_err(|_| PasswordError::Hash)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&PARAMS).map_err(|_| PasswordError::Hash)?,
        salt: Some(Salt::new(&salt).map_err(|_| PasswordError::Hash)?),
        hash: Some(Output::new(&out).map_err(|_| PasswordError::Hash)?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a PHC string, computing into `blocks`; a
/// malformed hash, or one that needs more memory than `blocks`, never
/// matches. The outputs are compared in constant time.
fn verify_into(password: &[u8], phc: &str, blocks: &mut [Block]) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    // Also sets the output length to the stored hash's.
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.block_count() > blocks.len() {
        tracing::warn!(
            m_cost = params.m_cost(),
            max_m_cost = blocks.len(),
            "a stored password hash needs more memory than a password check may use; \
             it never matches (give the user a new password)"
        );
        return false;
    }
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt.as_ref(),
        out,
        blocks,
    );
    computed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    fn verify(password: &[u8], phc: &str) -> bool {
        verify_into(password, phc, &mut new_blocks())
    }

    #[test]
    fn hashes_are_argon2id_phc_and_verify() {
        let phc = hash_password(b"correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify(b"correct horse", &phc));
        assert!(!verify(b"wrong", &phc));
        assert!(!verify(b"x", "not a hash"));
        assert!(!verify(b"x", "$argon2id$v=19$m=19456,t=2,p=1"));
        // The crate's own verifier agrees.
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", phc.as_str())
                .is_ok()
        );
    }

    #[test]
    fn hashes_with_other_parameters_verify_within_the_pooled_memory() {
        let salt = b"0123456789abcdef";
        for (algorithm, version, m, t, p, len) in [
            (Algorithm::Argon2id, Version::V0x13, 12_288, 3, 1, 32),
            (Algorithm::Argon2id, Version::V0x13, 19_456, 1, 2, 16),
            (Algorithm::Argon2i, Version::V0x10, 4096, 2, 1, 64),
            (Algorithm::Argon2d, Version::V0x13, 8, 1, 1, 32),
        ] {
            let params = Params::new(m, t, p, Some(len)).unwrap();
            let phc = Argon2::new(algorithm, version, params)
                .hash_password_with_salt(b"pw", salt)
                .unwrap()
                .to_string();
            assert!(verify(b"pw", &phc), "{phc}");
            assert!(!verify(b"pw2", &phc), "{phc}");
        }
    }

    #[test]
    fn a_hash_needing_more_memory_than_the_pool_holds_never_matches() {
        let params = Params::new(BLOCKS as u32 + 8, 1, 1, None).unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(b"pw", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert!(!verify(b"pw", &phc));
    }
}
