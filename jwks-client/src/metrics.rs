//! Counters and the per-issuer health snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        #[derive(Debug, Default)]
        pub(crate) struct Metrics {
            $(pub $name: AtomicU64,)*
        }

        /// Monotonic counters since the [`crate::Verifier`] was built.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        pub struct MetricsSnapshot {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Metrics {
            pub fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $($name: self.$name.load(Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Key-set fetches answered with a new document (200).
    fetch_ok,
    /// Fetches that failed (transport, timeout, status, size, JSON, redirect).
    fetch_error,
    /// Conditional fetches answered 304 Not Modified.
    fetch_not_modified,
    /// Discovery documents read successfully.
    discovery_ok,
    /// Verifications served from a key set past its lifetime (issuer unreachable).
    stale_serves,
    /// Forced refreshes because a token named an unknown `kid`.
    unknown_kid_refreshes,
    /// Unknown `kid`s refused without a fetch because of the cooldown.
    cooldown_rejections,
    /// JWKS members skipped as unusable.
    skipped_keys,
    /// Verification-result cache hits.
    result_cache_hits,
    /// Verification-result cache misses (only counted when the cache is on).
    result_cache_misses,
    /// Tokens accepted.
    verifications_ok,
    /// Tokens refused (for any reason, unavailability included).
    verifications_failed,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// The state of one issuer's key cache, for readiness probes and dashboards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuerHealth {
    pub issuer: String,
    /// Usable keys in the current set (0 when none is cached).
    pub key_count: usize,
    /// Unix time of the last successful fetch or 304.
    pub last_refresh: Option<i64>,
    /// The set is past its lifetime and served only because refreshes fail.
    pub stale: bool,
    /// A set with at least one key is cached and within its stale period.
    pub ready: bool,
}
