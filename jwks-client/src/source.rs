//! [`KeySource`]: where one issuer's keys come from, fetched (a slot of the
//! [`KeyCache`]) or held in memory by their owner ([`LocalKeys`]). The
//! verification pipeline asks only this, so it is the same for both.
//!
//! A closed enum rather than a trait: a verifier holds issuers of both kinds
//! side by side, and the fetched path is async, so a trait object would box
//! every lookup on the hot path.

use std::sync::Arc;
use std::time::Instant;

use crate::cache::KeyCache;
use crate::error::VerifyError;
use crate::keys::VerifyingKey;
use crate::local::LocalKeys;
use crate::metrics::IssuerHealth;

pub(crate) enum KeySource {
    /// This slot of the verifier's [`KeyCache`].
    Fetched(usize),
    /// A set the owner replaces; never fetched.
    Local(LocalKeys),
}

impl KeySource {
    /// The key named `kid`. Fetched keys may cost one forced refresh per
    /// cooldown; local keys answer at once.
    pub async fn key(
        &self,
        cache: &Arc<KeyCache>,
        kid: &str,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        match self {
            KeySource::Fetched(slot) => cache.key_for(*slot, kid).await,
            KeySource::Local(local) => local.key(kid),
        }
    }

    /// Whether the current set still holds this key under `kid`. Never
    /// fetches.
    pub async fn holds(&self, cache: &Arc<KeyCache>, kid: &str, fingerprint: &[u8; 32]) -> bool {
        match self {
            KeySource::Fetched(slot) => cache.holds(*slot, kid, fingerprint).await,
            KeySource::Local(local) => local.holds(kid, fingerprint),
        }
    }

    /// Loads the keys now if they are fetched; a local set must have been
    /// installed.
    pub async fn prefetch(&self, cache: &Arc<KeyCache>) -> Result<(), VerifyError> {
        match self {
            KeySource::Fetched(slot) => cache.prefetch(*slot).await,
            KeySource::Local(local) => local
                .current()
                .map(drop)
                .ok_or(VerifyError::KeysUnavailable),
        }
    }

    /// The health of `issuer`'s keys. A local set is never stale.
    pub fn health(&self, cache: &KeyCache, issuer: &str, now: Instant) -> IssuerHealth {
        match self {
            KeySource::Fetched(slot) => cache.health(*slot, now),
            KeySource::Local(local) => {
                let set = local.current();
                let key_count = set.as_ref().map_or(0, |s| s.keys.len());
                IssuerHealth {
                    issuer: issuer.to_owned(),
                    key_count,
                    last_refresh: set.map(|s| s.replaced_at),
                    stale: false,
                    ready: key_count > 0,
                }
            }
        }
    }
}
