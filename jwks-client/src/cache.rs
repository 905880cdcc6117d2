//! [`KeyCache`]: the keys of the issuers whose sets are fetched, one set per
//! issuer in a moka cache, replaced whole on each refresh.
//!
//! - Cold start: `try_get_with` merges concurrent loads, so a thousand
//!   first requests make one fetch.
//! - Warm: the hot path reads the set and, past its refresh point, spawns a
//!   background refresh; a timer does the same without traffic. Nothing on
//!   the request path waits for the network.
//! - Every fetch of an issuer runs under its `fetch_lock`; a caller that
//!   waited for the lock while someone else fetched takes that result
//!   (a generation counter tells), so fetches never pile up.
//! - Unknown `kid`: one forced refresh per cooldown; inside it, fail fast
//!   (or wait for a fetch already in flight).
//! - Failure: the last good set keeps verifying until `max_stale` past its
//!   lifetime, when moka's per-entry expiry drops it; fetches back off for
//!   `error_backoff` after each failure.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::AcqRel, Ordering::Acquire};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use moka::Expiry;
use tokio::runtime::Handle;
use tracing::Instrument as _;

use crate::config::{Algorithm, CacheSettings};
use crate::error::VerifyError;
use crate::fetch::{FetchError, Fetched, Http};
use crate::keys::{KeyMap, VerifyingKey, parse_jwks};
use crate::metrics::{IssuerHealth, Metrics};
use crate::results::ResultCache;

/// One issuer's usable keys and their lifetime.
#[derive(Debug)]
struct KeySet {
    pub keys: Arc<KeyMap>,
    pub etag: Option<String>,
    /// Past this the set is stale (still served while refreshes fail).
    pub fresh_until: Instant,
    /// When the background refresh is due (jittered, before `fresh_until`).
    pub refresh_at: Instant,
    /// Past this moka drops the set.
    pub stale_until: Instant,
}

/// Expires each set `max_stale` after its lifetime.
struct SetExpiry;

impl Expiry<usize, Arc<KeySet>> for SetExpiry {
    fn expire_after_create(
        &self,
        _: &usize,
        set: &Arc<KeySet>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(set.stale_until.saturating_duration_since(created_at))
    }

    fn expire_after_update(
        &self,
        _: &usize,
        set: &Arc<KeySet>,
        updated_at: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(set.stale_until.saturating_duration_since(updated_at))
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Status {
    pub key_count: usize,
    pub last_refresh: Option<i64>,
    pub fresh_until: Option<Instant>,
    pub stale_until: Option<Instant>,
}

/// What one fetched issuer is, and its fetch coordination.
pub(crate) struct FetchState {
    /// The issuer identifier (discovery, log lines).
    issuer: String,
    /// The verifier's index of this issuer, as its cached results name it.
    index: usize,
    /// The issuer's algorithm allow-list, for the key rules.
    algorithms: Vec<Algorithm>,
    configured_jwks: Option<String>,
    discovered_jwks: Mutex<Option<String>>,
    fetch_lock: tokio::sync::Mutex<()>,
    /// Bumped after every fetch attempt.
    generation: AtomicU64,
    /// A background refresh task exists.
    refreshing: AtomicBool,
    last_forced_ms: AtomicU64,
    last_error_ms: AtomicU64,
    status: Mutex<Status>,
}

impl FetchState {
    /// Issuer `issuer`, the verifier's issuer number `index`, keys from
    /// `configured_jwks` or else discovery.
    pub fn new(
        issuer: &str,
        index: usize,
        algorithms: &[Algorithm],
        configured_jwks: Option<String>,
    ) -> Self {
        FetchState {
            issuer: issuer.to_owned(),
            index,
            algorithms: algorithms.to_vec(),
            configured_jwks,
            discovered_jwks: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            last_forced_ms: AtomicU64::new(0),
            last_error_ms: AtomicU64::new(0),
            status: Mutex::new(Status::default()),
        }
    }

    fn status(&self) -> Status {
        *lock(&self.status)
    }
}

/// The fetched key sets of every issuer that has no local keys, each issuer
/// a slot (its [`FetchState`]).
pub(crate) struct KeyCache {
    slots: Vec<FetchState>,
    sets: moka::future::Cache<usize, Arc<KeySet>>,
    http: Http,
    settings: CacheSettings,
    metrics: Arc<Metrics>,
    /// The verifier's result cache, purged when keys leave a set.
    results: Option<Arc<ResultCache>>,
    /// Origin of the millisecond clock used by the atomics.
    base: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Clears the `refreshing` flag even if the task is dropped mid-fetch.
struct RefreshingGuard<'a>(&'a AtomicBool);

impl Drop for RefreshingGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Release);
    }
}

impl KeyCache {
    pub fn new(
        slots: Vec<FetchState>,
        http: Http,
        settings: CacheSettings,
        metrics: Arc<Metrics>,
        results: Option<Arc<ResultCache>>,
    ) -> Self {
        let sets = moka::future::Cache::builder()
            .max_capacity(slots.len() as u64 + 1)
            .expire_after(SetExpiry)
            .build();
        KeyCache {
            slots,
            sets,
            http,
            settings,
            metrics,
            results,
            base: Instant::now(),
        }
    }

    /// The key for `kid` of the issuer in `slot`: from the cached set, or
    /// after at most one forced refresh per cooldown.
    pub async fn key_for(
        self: &Arc<Self>,
        slot: usize,
        kid: &str,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        let set = match self.sets.get(&slot).await {
            Some(set) => {
                self.observe(slot, &set);
                set
            }
            None => Box::pin(self.current_set(slot)).await?,
        };
        if let Some(key) = set.keys.get(kid) {
            return Ok(key.clone());
        }
        Box::pin(self.unknown_kid(slot, kid)).await
    }

    /// Whether the cached set of `slot` still holds this key under `kid`
    /// (a result-cache hit is still good). Never fetches.
    pub async fn holds(self: &Arc<Self>, slot: usize, kid: &str, fingerprint: &[u8; 32]) -> bool {
        match self.sets.get(&slot).await {
            Some(set) => {
                self.observe(slot, &set);
                set.keys
                    .get(kid)
                    .is_some_and(|k| k.fingerprint() == fingerprint)
            }
            None => false,
        }
    }

    /// Loads the set of `slot` now unless one is cached.
    pub async fn prefetch(self: &Arc<Self>, slot: usize) -> Result<(), VerifyError> {
        self.current_set(slot).await.map(drop)
    }

    pub fn health(&self, slot: usize, now: Instant) -> IssuerHealth {
        let st = &self.slots[slot];
        let status = st.status();
        let stale = status.fresh_until.is_some_and(|t| now >= t);
        let within = status.stale_until.is_some_and(|t| now < t);
        IssuerHealth {
            issuer: st.issuer.clone(),
            key_count: if within { status.key_count } else { 0 },
            last_refresh: status.last_refresh,
            stale,
            ready: within && status.key_count > 0,
        }
    }

    /// A sensible `Retry-After` for a 503 caused by unavailable keys.
    pub fn retry_after(&self) -> Duration {
        self.settings.error_backoff.max(Duration::from_secs(1))
    }

    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64 + 1
    }

    /// The issuer's current set: warm from moka (scheduling a background
    /// refresh when due), or loaded once for all concurrent callers.
    async fn current_set(self: &Arc<Self>, idx: usize) -> Result<Arc<KeySet>, VerifyError> {
        if let Some(set) = self.sets.get(&idx).await {
            self.observe(idx, &set);
            return Ok(set);
        }
        let this = self.clone();
        self.sets
            .try_get_with(idx, async move {
                let st = &this.slots[idx];
                let seen = st.generation.load(Acquire);
                let _fetching = st.fetch_lock.lock().await;
                if st.generation.load(Acquire) != seen
                    && let Some(set) = this.sets.get(&idx).await
                {
                    return Ok(set);
                }
                this.fetch_set(idx, "cold").await
            })
            .await
            .map_err(|_| VerifyError::KeysUnavailable)
    }

    /// Hot-path bookkeeping for a set about to be used.
    fn observe(self: &Arc<Self>, idx: usize, set: &KeySet) {
        let now = Instant::now();
        if now >= set.refresh_at {
            self.spawn_refresh(idx);
        }
        if now >= set.fresh_until {
            Metrics::inc(&self.metrics.stale_serves);
        }
    }

    /// Starts a background refresh unless one is running or fetches are
    /// backing off.
    fn spawn_refresh(self: &Arc<Self>, idx: usize) {
        let st = &self.slots[idx];
        if self.in_backoff(idx) || st.refreshing.swap(true, AcqRel) {
            return;
        }
        let Ok(handle) = Handle::try_current() else {
            st.refreshing
                .store(false, std::sync::atomic::Ordering::Release);
            return;
        };
        let this = self.clone();
        handle.spawn(async move {
            let _flag = RefreshingGuard(&this.slots[idx].refreshing);
            this.refresh(idx, "refresh-ahead").await;
        });
    }

    /// Fetches now unless another caller fetched while this one waited for
    /// the lock; installs and returns the resulting set.
    async fn refresh(self: &Arc<Self>, idx: usize, reason: &'static str) -> Option<Arc<KeySet>> {
        let st = &self.slots[idx];
        let seen = st.generation.load(Acquire);
        let _fetching = st.fetch_lock.lock().await;
        if st.generation.load(Acquire) != seen {
            return self.sets.get(&idx).await;
        }
        let set = self.fetch_set(idx, reason).await.ok()?;
        self.sets.insert(idx, set.clone()).await;
        Some(set)
    }

    /// An unknown `kid`: one forced refresh per cooldown. Callers inside the
    /// cooldown wait for a fetch already in flight (it may bring the key) or
    /// fail at once; they never start a fetch.
    async fn unknown_kid(
        self: &Arc<Self>,
        idx: usize,
        kid: &str,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        let st = &self.slots[idx];
        let now = self.now_ms();
        let cooldown = self.settings.unknown_kid_cooldown.as_millis() as u64;
        let last = st.last_forced_ms.load(Acquire);
        let may_force = last == 0 || now.saturating_sub(last) >= cooldown;
        if may_force
            && st
                .last_forced_ms
                .compare_exchange(last, now, AcqRel, Acquire)
                .is_ok()
        {
            Metrics::inc(&self.metrics.unknown_kid_refreshes);
            tracing::info!(issuer = %st.issuer, kid, "unknown kid: refreshing the key set");
            let set = self.refresh(idx, "unknown-kid").await;
            return set
                .and_then(|s| s.keys.get(kid).cloned())
                .ok_or(VerifyError::UnknownKid);
        }
        if st.fetch_lock.try_lock().is_err() {
            // A fetch is in flight: its result may hold the key.
            drop(st.fetch_lock.lock().await);
            if let Some(key) = self
                .sets
                .get(&idx)
                .await
                .and_then(|s| s.keys.get(kid).cloned())
            {
                return Ok(key);
            }
        }
        Metrics::inc(&self.metrics.cooldown_rejections);
        Err(VerifyError::UnknownKid)
    }

    fn in_backoff(&self, idx: usize) -> bool {
        let last = self.slots[idx].last_error_ms.load(Acquire);
        last != 0
            && self.now_ms().saturating_sub(last) < self.settings.error_backoff.as_millis() as u64
    }

    /// One fetch attempt (caller holds the fetch lock). Builds the new set
    /// but leaves installing it to the caller.
    async fn fetch_set(
        self: &Arc<Self>,
        idx: usize,
        reason: &'static str,
    ) -> Result<Arc<KeySet>, FetchError> {
        let st = &self.slots[idx];
        if self.in_backoff(idx) {
            return Err(FetchError::Backoff);
        }
        let current = self.sets.get(&idx).await;
        let span = tracing::info_span!("jwks_fetch", issuer = %st.issuer, reason);
        let result = self
            .fetch_once(idx, current.as_deref())
            .instrument(span)
            .await;
        st.generation.fetch_add(1, AcqRel);
        match result {
            Ok(set) => {
                st.last_error_ms
                    .store(0, std::sync::atomic::Ordering::Release);
                *lock(&st.status) = Status {
                    key_count: set.keys.len(),
                    last_refresh: Some(shared::now_unix()),
                    fresh_until: Some(set.fresh_until),
                    stale_until: Some(set.stale_until),
                };
                if let (Some(old), Some(results)) = (&current, &self.results) {
                    results.purge_removed(st.index, &st.issuer, &old.keys, &set.keys);
                }
                self.schedule(idx, set.refresh_at);
                Ok(set)
            }
            Err(e) => {
                st.last_error_ms
                    .store(self.now_ms(), std::sync::atomic::Ordering::Release);
                Metrics::inc(&self.metrics.fetch_error);
                match &current {
                    Some(set) => {
                        let stale = Instant::now().saturating_duration_since(set.fresh_until);
                        tracing::warn!(
                            issuer = %st.issuer,
                            error = %e,
                            stale_for_s = stale.as_secs(),
                            max_stale_s = self.settings.max_stale.as_secs(),
                            "key set refresh failed; serving the last good set"
                        );
                        self.schedule(
                            idx,
                            Instant::now()
                                + self.settings.error_backoff
                                + jitter(self.settings.error_backoff / 4),
                        );
                    }
                    None => tracing::warn!(
                        issuer = %st.issuer,
                        error = %e,
                        "key set fetch failed; no keys available"
                    ),
                }
                Err(e)
            }
        }
    }

    async fn fetch_once(
        &self,
        idx: usize,
        current: Option<&KeySet>,
    ) -> Result<Arc<KeySet>, FetchError> {
        let st = &self.slots[idx];
        let (url, discovered) = self.jwks_url(idx).await?;
        let etag = current.and_then(|c| c.etag.as_deref());
        match self.http.get(&url, etag).await {
            Ok(Fetched::Modified {
                body,
                etag,
                max_age,
            }) => {
                let (keys, skipped) = parse_jwks(&body, &st.algorithms, &st.issuer)
                    .map_err(|e| FetchError::Invalid(e.to_string()))?;
                self.metrics
                    .skipped_keys
                    .fetch_add(skipped, std::sync::atomic::Ordering::Relaxed);
                Metrics::inc(&self.metrics.fetch_ok);
                if keys.is_empty() {
                    tracing::warn!(issuer = %st.issuer, skipped, "JWKS has no usable key");
                } else {
                    tracing::info!(issuer = %st.issuer, keys = keys.len(), skipped, "key set fetched");
                }
                Ok(self.new_set(Arc::new(keys), etag, max_age))
            }
            Ok(Fetched::NotModified { max_age }) => {
                let current = current.ok_or(FetchError::Status(304))?;
                Metrics::inc(&self.metrics.fetch_not_modified);
                tracing::debug!(issuer = %st.issuer, "key set not modified");
                Ok(self.new_set(current.keys.clone(), current.etag.clone(), max_age))
            }
            Err(e) => {
                if discovered && matches!(e, FetchError::Status(404 | 410)) {
                    // The JWKS moved: discover again next time.
                    *lock(&st.discovered_jwks) = None;
                }
                Err(e)
            }
        }
    }

    /// The configured JWKS URL, or the discovered one (discovering once).
    async fn jwks_url(&self, idx: usize) -> Result<(String, bool), FetchError> {
        let st = &self.slots[idx];
        if let Some(url) = &st.configured_jwks {
            return Ok((url.clone(), false));
        }
        if let Some(url) = lock(&st.discovered_jwks).clone() {
            return Ok((url, true));
        }
        let url = self.http.discover(&st.issuer).await?;
        Metrics::inc(&self.metrics.discovery_ok);
        tracing::info!(issuer = %st.issuer, jwks_uri = %url, "discovered JWKS URL");
        *lock(&st.discovered_jwks) = Some(url.clone());
        Ok((url, true))
    }

    fn new_set(
        &self,
        keys: Arc<KeyMap>,
        etag: Option<String>,
        max_age: Option<Duration>,
    ) -> Arc<KeySet> {
        let s = &self.settings;
        let ttl = max_age
            .map(|m| m.clamp(s.min_ttl, s.max_ttl))
            .unwrap_or(s.default_ttl);
        // Refresh at a random point between (1 - a) and (1 - a/2) of the
        // lifetime, so instances spread their fetches.
        let ahead = ttl.mul_f64(s.refresh_ahead / 2.0);
        let refresh_in = ttl.saturating_sub(ahead * 2) + jitter(ahead);
        let now = Instant::now();
        Arc::new(KeySet {
            keys,
            etag,
            fresh_until: now + ttl,
            refresh_at: now + refresh_in,
            stale_until: now + ttl + s.max_stale,
        })
    }

    /// Wakes at `at` and starts a refresh, unless another fetch happened
    /// meanwhile (that one scheduled its own) or the verifier is gone.
    fn schedule(self: &Arc<Self>, idx: usize, at: Instant) {
        let Ok(handle) = Handle::try_current() else {
            return;
        };
        let generation = self.slots[idx].generation.load(Acquire);
        let weak = Arc::downgrade(self);
        handle.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let Some(this) = weak.upgrade() else { return };
            if this.slots[idx].generation.load(Acquire) == generation {
                this.spawn_refresh(idx);
            }
        });
    }
}

/// A uniformly random duration in `[0, max]`.
fn jitter(max: Duration) -> Duration {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return max / 2;
    }
    let fraction = (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(fraction)
}
