//! The optional verification-result cache: claims kept for the exact token
//! string until the token expires, dropped when its signing key leaves its
//! issuer's set (whichever source the set comes from).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::jws::Claims;
use crate::keys::KeyMap;

/// A verification result kept for the exact token string.
pub(crate) struct CachedResult {
    pub claims: Arc<Claims>,
    /// The verifier's index of the issuer that signed it.
    pub issuer: usize,
    pub kid: Box<str>,
    pub fingerprint: [u8; 32],
    pub leeway: i64,
}

/// Results by token, each expiring with its token (plus leeway).
pub(crate) struct ResultCache {
    cache: moka::future::Cache<Box<str>, Arc<CachedResult>>,
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

    pub async fn get(&self, token: &str) -> Option<Arc<CachedResult>> {
        self.cache.get(token).await
    }

    pub async fn insert(&self, token: &str, result: CachedResult) {
        self.cache.insert(Box::from(token), Arc::new(result)).await;
    }

    pub async fn invalidate(&self, token: &str) {
        self.cache.invalidate(token).await;
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

impl Expiry<Box<str>, Arc<CachedResult>> for ResultExpiry {
    fn expire_after_create(
        &self,
        _key: &Box<str>,
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
