//! [`Verifier`]: the entry point. Holds the trusted issuers, their key
//! caches, the optional result cache and the counters behind one `Arc`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;

use crate::cache::{IssuerState, KeySet, SetExpiry};
use crate::config::{
    CacheSettings, DEFAULT_MAX_TOKEN_BYTES, HttpSettings, IssuerConfig, MAX_LEEWAY,
};
use crate::error::{BuildError, VerifyError};
use crate::fetch::{Http, check_url};
use crate::jws::{self, Claims};
use crate::keys::VerifyingKey;
use crate::metrics::{IssuerHealth, Metrics, MetricsSnapshot};
use crate::policy::Policy;

/// Verifies access tokens from a fixed set of trusted issuers.
///
/// Cheap to clone (one `Arc`); share one per process. Keys are fetched on
/// first use (or by [`Verifier::prefetch`]) and then refreshed in the
/// background; a request never waits on a warm cache.
///
/// ```no_run
/// use jwks_client::{IssuerConfig, Verifier};
///
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::builder()
///     .issuer(IssuerConfig::new("https://id.example.com").audiences(["orders"]))
///     .build()?;
/// verifier.prefetch().await?; // optional: warm the key cache at start-up
/// let claims = verifier.verify(token).await?;
/// if claims.has_scope("items:read") {
///     println!("hello {}", claims.sub);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "issuers",
                &self
                    .inner
                    .issuers
                    .iter()
                    .map(|i| i.policy.issuer.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Configures a [`Verifier`]. Nothing touches the network until the first
/// verification or [`Verifier::prefetch`].
///
/// ```
/// use std::time::Duration;
/// use jwks_client::{Algorithm, CacheSettings, IssuerConfig, Verifier};
///
/// let verifier = Verifier::builder()
///     .issuer(
///         IssuerConfig::new("http://127.0.0.1:8080")
///             .audiences(["orders"])
///             .algorithms(&[Algorithm::RS256, Algorithm::PS256])
///             .leeway(Duration::from_secs(10)),
///     )
///     .cache(CacheSettings { unknown_kid_cooldown: Duration::from_secs(10), ..Default::default() })
///     .result_cache(10_000)
///     .build()
///     .expect("valid configuration");
/// assert_eq!(verifier.health().len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct VerifierBuilder {
    issuers: Vec<IssuerConfig>,
    cache: CacheSettings,
    http: HttpSettings,
    result_cache: u64,
    max_token_bytes: Option<usize>,
}

impl VerifierBuilder {
    /// Trusts one more issuer (call once per issuer).
    pub fn issuer(mut self, cfg: IssuerConfig) -> Self {
        self.issuers.push(cfg);
        self
    }

    pub fn cache(mut self, s: CacheSettings) -> Self {
        self.cache = s;
        self
    }

    pub fn http(mut self, s: HttpSettings) -> Self {
        self.http = s;
        self
    }

    /// Caches up to `capacity` verification results keyed by the exact token
    /// (0, the default, turns it off). Hits still check `exp` and that the
    /// signing key is still in its issuer's set.
    pub fn result_cache(mut self, capacity: u64) -> Self {
        self.result_cache = capacity;
        self
    }

    /// Largest compact token accepted, in bytes (default 8 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = Some(bytes);
        self
    }

    /// Checks the configuration and builds the verifier. Makes no network
    /// call; URLs must be `https` unless loopback or `allow_insecure_http`.
    pub fn build(self) -> Result<Verifier, BuildError> {
        if self.issuers.is_empty() {
            return Err(BuildError::NoIssuers);
        }
        let c = &self.cache;
        if c.min_ttl > c.max_ttl {
            return Err(BuildError::InvalidSetting("min_ttl is larger than max_ttl"));
        }
        if !(0.0..=1.0).contains(&c.refresh_ahead) {
            return Err(BuildError::InvalidSetting(
                "refresh_ahead must be between 0 and 1",
            ));
        }
        if self.http.max_body_bytes == 0 {
            return Err(BuildError::InvalidSetting("max_body_bytes is zero"));
        }
        let max_token_bytes = self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        if max_token_bytes == 0 {
            return Err(BuildError::InvalidSetting("max_token_bytes is zero"));
        }
        let mut issuers: Vec<IssuerState> = Vec::with_capacity(self.issuers.len());
        for cfg in &self.issuers {
            if issuers.iter().any(|i| i.policy.issuer == cfg.issuer) {
                return Err(BuildError::DuplicateIssuer(cfg.issuer.clone()));
            }
            if cfg.audiences.is_empty() {
                return Err(BuildError::NoAudience(cfg.issuer.clone()));
            }
            if cfg.algorithms.is_empty() {
                return Err(BuildError::NoAlgorithm(cfg.issuer.clone()));
            }
            if cfg.leeway > MAX_LEEWAY {
                return Err(BuildError::InvalidSetting("leeway is above 60 s"));
            }
            match &cfg.jwks_url {
                Some(url) => check_url(url, self.http.allow_insecure_http).map(drop)?,
                None => check_url(&cfg.issuer, self.http.allow_insecure_http).map(drop)?,
            }
            issuers.push(IssuerState::new(Policy::new(cfg), cfg.jwks_url.clone()));
        }
        let http = Http::new(self.http)?;
        let sets = moka::future::Cache::builder()
            .max_capacity(issuers.len() as u64 + 1)
            .expire_after(SetExpiry)
            .build();
        let results = (self.result_cache > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(self.result_cache)
                .expire_after(ResultExpiry)
                .support_invalidation_closures()
                .build()
        });
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers,
                sets,
                results,
                http,
                settings: self.cache,
                max_token_bytes,
                metrics: Metrics::default(),
                base: Instant::now(),
            }),
        })
    }
}

impl Verifier {
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// Verifies a compact JWS access token: structure, header rules, issuer,
    /// signature with a cached key, then `exp`/`nbf`/`iat`, `aud` and the
    /// required claims. Never contacts an issuer on a warm cache.
    pub async fn verify(&self, token: &str) -> Result<Arc<Claims>, VerifyError> {
        let result = self.inner.verify(token).await;
        match &result {
            Ok(_) => Metrics::inc(&self.inner.metrics.verifications_ok),
            Err(e) => {
                Metrics::inc(&self.inner.metrics.verifications_failed);
                tracing::debug!(error = %e, "token rejected");
            }
        }
        result
    }

    /// Loads every issuer's keys now (start-up, readiness). Returns
    /// [`VerifyError::KeysUnavailable`] if any issuer has no usable set.
    pub async fn prefetch(&self) -> Result<(), VerifyError> {
        let mut result = Ok(());
        for idx in 0..self.inner.issuers.len() {
            if let Err(e) = self.inner.current_set(idx).await {
                result = Err(e);
            }
        }
        result
    }

    /// One entry per issuer, in configuration order.
    pub fn health(&self) -> Vec<IssuerHealth> {
        let now = Instant::now();
        self.inner.issuers.iter().map(|st| st.health(now)).collect()
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// A sensible `Retry-After` for a 503 caused by unavailable keys.
    pub fn retry_after(&self) -> Duration {
        self.inner
            .settings
            .error_backoff
            .max(Duration::from_secs(1))
    }
}

/// A verification result kept for the exact token string.
pub(crate) struct CachedResult {
    pub claims: Arc<Claims>,
    pub issuer: usize,
    pub kid: Box<str>,
    pub fingerprint: [u8; 32],
    pub leeway: i64,
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

pub(crate) struct Inner {
    pub issuers: Vec<IssuerState>,
    pub sets: moka::future::Cache<usize, Arc<KeySet>>,
    pub results: Option<moka::future::Cache<Box<str>, Arc<CachedResult>>>,
    pub http: Http,
    pub settings: CacheSettings,
    pub max_token_bytes: usize,
    pub metrics: Metrics,
    /// Origin of the millisecond clock used by the atomics.
    pub base: Instant,
}

impl Inner {
    async fn verify(self: &Arc<Self>, token: &str) -> Result<Arc<Claims>, VerifyError> {
        if token.len() > self.max_token_bytes {
            return Err(VerifyError::TokenTooLarge);
        }
        // Rarely-taken or optional paths are boxed so the hot future stays
        // small (it is moved on every call).
        if self.results.is_some()
            && let Some(claims) = Box::pin(self.cached_result(token)).await?
        {
            return Ok(claims);
        }
        let segments = jws::split(token)?;
        let header = jws::parse_header_memo(segments.header)?;
        let kid = header.kid.as_deref().ok_or(VerifyError::MissingKid)?;
        let raw = jws::parse_claims(segments.payload)?;
        let iss = raw.iss.as_deref().ok_or(VerifyError::MissingClaim("iss"))?;
        let idx = self
            .issuers
            .iter()
            .position(|i| i.policy.issuer == iss)
            .ok_or(VerifyError::UnknownIssuer)?;
        let policy = &self.issuers[idx].policy;
        policy.check_header(&header)?;
        jws::check_signature_shape(segments.signature)?;
        let key = self.key_for(idx, kid).await?;
        jws::verify_signature(&key, header.alg, &segments)?;
        let claims = Arc::new(policy.check_claims(raw, shared::now_unix())?);
        if let Some(results) = &self.results {
            let entry = CachedResult {
                claims: claims.clone(),
                issuer: idx,
                kid: Box::from(kid),
                fingerprint: *key.fingerprint(),
                leeway: policy.leeway,
            };
            results.insert(Box::from(token), Arc::new(entry)).await;
        }
        Ok(claims)
    }

    /// A result-cache hit whose token has not expired and whose key is still
    /// in its issuer's current set.
    async fn cached_result(
        self: &Arc<Self>,
        token: &str,
    ) -> Result<Option<Arc<Claims>>, VerifyError> {
        let Some(results) = &self.results else {
            return Ok(None);
        };
        let Some(hit) = results.get(token).await else {
            Metrics::inc(&self.metrics.result_cache_misses);
            return Ok(None);
        };
        if shared::now_unix() >= hit.claims.exp.saturating_add(hit.leeway) {
            results.invalidate(token).await;
            return Err(VerifyError::Expired);
        }
        let key_present = match self.sets.get(&hit.issuer).await {
            Some(set) => {
                self.observe(hit.issuer, &set);
                set.keys
                    .get(&hit.kid)
                    .is_some_and(|k| k.fingerprint() == &hit.fingerprint)
            }
            None => false,
        };
        if !key_present {
            results.invalidate(token).await;
            Metrics::inc(&self.metrics.result_cache_misses);
            return Ok(None);
        }
        Metrics::inc(&self.metrics.result_cache_hits);
        Ok(Some(hit.claims.clone()))
    }

    /// The key for `kid`: from the cached set, or after at most one forced
    /// refresh per cooldown.
    async fn key_for(
        self: &Arc<Self>,
        idx: usize,
        kid: &str,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        let set = match self.sets.get(&idx).await {
            Some(set) => {
                self.observe(idx, &set);
                set
            }
            None => Box::pin(self.current_set(idx)).await?,
        };
        if let Some(key) = set.keys.get(kid) {
            return Ok(key.clone());
        }
        Box::pin(self.unknown_kid(idx, kid)).await
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64 + 1
    }
}

impl IssuerState {
    fn health(&self, now: Instant) -> IssuerHealth {
        let status = self.status();
        let stale = status.fresh_until.is_some_and(|t| now >= t);
        let within = status.stale_until.is_some_and(|t| now < t);
        IssuerHealth {
            issuer: self.policy.issuer.clone(),
            key_count: if within { status.key_count } else { 0 },
            last_refresh: status.last_refresh,
            stale,
            ready: within && status.key_count > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}

    #[test]
    fn verifier_and_its_futures_are_send() {
        let verifier = Verifier::builder()
            .issuer(IssuerConfig::new("http://127.0.0.1:1").audiences(["a"]))
            .build();
        let Ok(verifier) = verifier else {
            panic!("valid configuration");
        };
        assert_send_sync(&verifier);
        assert_send(verifier.verify("a.b.c"));
        assert_send(verifier.prefetch());
    }
}
