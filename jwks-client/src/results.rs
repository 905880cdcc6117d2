//! The optional verification-result cache: claims kept for a token until it
//! expires, dropped when its signing key leaves its issuer's set (whichever
//! source the set comes from).
//!
//! Entries are keyed by the SHA-256 digest of the token, not the token: 32
//! bytes instead of the token's 700 or more, and no bearer token is held in
//! memory. A different token with the same key would need a SHA-256
//! collision. Each entry is the key, the verified [`Claims`] (shared with
//! the callers that got them) and the few fields a hit is checked with.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use moka::Expiry;

use crate::jws::Claims;
use crate::keys::KeyMap;

/// The cache key of a token: its SHA-256 digest.
pub(crate) type TokenKey = [u8; 32];

/// The key of `token`.
pub(crate) fn token_key(token: &str) -> TokenKey {
    let mut key = [0u8; 32];
    key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    key
}

/// A verification result kept for one token.
pub(crate) struct CachedResult {
    pub claims: Arc<Claims>,
    /// The verifier's index of the issuer that signed it.
    pub issuer: usize,
    pub kid: Box<str>,
    pub fingerprint: [u8; 32],
    pub leeway: i64,
}

/// Results by token digest, each expiring with its token (plus leeway).
pub(crate) struct ResultCache {
    cache: moka::future::Cache<TokenKey, Arc<CachedResult>>,
}

impl ResultCache {
    pub fn new(capacity: u64) -> Self {
        ResultCache {
            cache: moka::future::Cache::builder()
                .max_capacity(capacity)
                .expire_after(ResultExpiry)
                .support_invalidation_closures()
                .build(),
        }
    }

    pub async fn get(&self, key: &TokenKey) -> Option<Arc<CachedResult>> {
        self.cache.get(key).await
    }

    pub async fn insert(&self, key: TokenKey, result: CachedResult) {
        self.cache.insert(key, Arc::new(result)).await;
    }

    pub async fn invalidate(&self, key: &TokenKey) {
        self.cache.invalidate(key).await;
    }

    /// Drops the results of `issuer` whose key left the set (or changed
    /// under its `kid`) when `old` was replaced by `new`. `label` names the
    /// issuer in the log line.
    pub fn purge_removed(&self, issuer: usize, label: &str, old: &KeyMap, new: &KeyMap) {
        let removed: HashSet<Box<str>> = old
            .iter()
            .filter(|(kid, key)| {
                new.get(*kid)
                    .is_none_or(|k| k.fingerprint() != key.fingerprint())
            })
            .map(|(kid, _)| kid.clone())
            .collect();
        if removed.is_empty() {
            return;
        }
        tracing::info!(issuer = %label, removed = removed.len(), "keys left the set");
        if let Err(e) = self
            .cache
            .invalidate_entries_if(move |_, r| r.issuer == issuer && removed.contains(&r.kid))
        {
            tracing::warn!(error = %e, "cannot purge the result cache");
        }
    }
}

struct ResultExpiry;

impl Expiry<TokenKey, Arc<CachedResult>> for ResultExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenKey,
        value: &Arc<CachedResult>,
        _created_at: Instant,
    ) -> Option<Duration> {
        let left = value
            .claims
            .exp
            .saturating_add(value.leeway)
            .saturating_sub(shared::now_unix());
        Some(Duration::from_secs(left.max(0) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_sha256_of_the_whole_token() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex: String = token_key("abc")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, want);
        assert_ne!(token_key("a.b.c"), token_key("a.b.d"));
    }
}
