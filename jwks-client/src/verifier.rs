//! [`Verifier`]: the entry point and the verification pipeline. Holds the
//! trusted issuers (policy and key source each), the key cache of the
//! fetched ones, the optional result cache and the counters behind one
//! `Arc`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cache::{FetchState, KeyCache};
use crate::config::{
    Audiences, CacheSettings, DEFAULT_MAX_TOKEN_BYTES, HttpSettings, IssuerConfig, KeysFrom,
    MAX_LEEWAY,
};
use crate::error::{BuildError, VerifyError};
use crate::fetch::{Http, check_url};
use crate::jws::{self, Claims};
use crate::metrics::{IssuerHealth, Metrics, MetricsSnapshot};
use crate::policy::Policy;
use crate::results::{CachedResult, ResultCache, TokenKey, token_key};
use crate::source::KeySource;

/// Verifies access tokens from a fixed set of trusted issuers.
///
/// Cheap to clone (one `Arc`); share one per process. Keys are fetched on
/// first use (or by [`Verifier::prefetch`]) and then refreshed in the
/// background; a request never waits on a warm cache. An issuer configured
/// with [`IssuerConfig::local_keys`] is never fetched: its keys are the set
/// its owner last installed (see [`crate::LocalKeys`]).
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

    /// Caches up to `capacity` verification results keyed by the token's
    /// SHA-256 digest (0, the default, turns it off). An entry never
    /// outlives its token's `exp` (plus leeway) and is dropped when its
    /// signing key leaves its issuer's set; hits check both again. An entry
    /// is the digest, the claims and moka's bookkeeping (about 1 KiB,
    /// estimated, with this workspace's tokens).
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
        let mut issuers: Vec<Issuer> = Vec::with_capacity(self.issuers.len());
        let mut slots = Vec::new();
        for (index, cfg) in self.issuers.iter().enumerate() {
            if issuers.iter().any(|i| i.policy.issuer == cfg.issuer) {
                return Err(BuildError::DuplicateIssuer(cfg.issuer.clone()));
            }
            if matches!(&cfg.audiences, Audiences::Listed(list) if list.is_empty()) {
                return Err(BuildError::NoAudience(cfg.issuer.clone()));
            }
            if cfg.algorithms.is_empty() {
                return Err(BuildError::NoAlgorithm(cfg.issuer.clone()));
            }
            if cfg.leeway > MAX_LEEWAY {
                return Err(BuildError::InvalidSetting("leeway is above 60 s"));
            }
            let source = if let KeysFrom::Local(keys) = &cfg.keys {
                KeySource::Local(keys.clone())
            } else {
                let configured = match &cfg.keys {
                    KeysFrom::Url(url) => Some(url.clone()),
                    _ => None,
                };
                check_url(
                    configured.as_deref().unwrap_or(&cfg.issuer),
                    self.http.allow_insecure_http,
                )?;
                slots.push(FetchState::new(
                    &cfg.issuer,
                    index,
                    &cfg.algorithms,
                    configured,
                ));
                KeySource::Fetched(slots.len() - 1)
            };
            issuers.push(Issuer {
                policy: Policy::new(cfg),
                source,
            });
        }
        let http = Http::new(self.http)?;
        let metrics = Arc::new(Metrics::default());
        let results =
            (self.result_cache > 0).then(|| Arc::new(ResultCache::new(self.result_cache)));
        if let Some(results) = &results {
            for (index, issuer) in issuers.iter().enumerate() {
                if let KeySource::Local(keys) = &issuer.source {
                    keys.watch(results, index);
                }
            }
        }
        let keys = Arc::new(KeyCache::new(
            slots,
            http,
            self.cache,
            metrics.clone(),
            results.clone(),
        ));
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers,
                keys,
                results,
                max_token_bytes,
                metrics,
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
        for issuer in &self.inner.issuers {
            if let Err(e) = issuer.source.prefetch(&self.inner.keys).await {
                result = Err(e);
            }
        }
        result
    }

    /// One entry per issuer, in configuration order.
    pub fn health(&self) -> Vec<IssuerHealth> {
        let now = Instant::now();
        self.inner
            .issuers
            .iter()
            .map(|i| i.source.health(&self.inner.keys, &i.policy.issuer, now))
            .collect()
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// A sensible `Retry-After` for a 503 caused by unavailable keys.
    pub fn retry_after(&self) -> Duration {
        self.inner.keys.retry_after()
    }
}

/// One trusted issuer: what its tokens must satisfy, and where its keys
/// come from.
struct Issuer {
    policy: Policy,
    source: KeySource,
}

struct Inner {
    issuers: Vec<Issuer>,
    /// The sets of the issuers whose keys are fetched.
    keys: Arc<KeyCache>,
    results: Option<Arc<ResultCache>>,
    max_token_bytes: usize,
    metrics: Arc<Metrics>,
}

impl Inner {
    async fn verify(self: &Arc<Self>, token: &str) -> Result<Arc<Claims>, VerifyError> {
        if token.len() > self.max_token_bytes {
            return Err(VerifyError::TokenTooLarge);
        }
        // Rarely-taken or optional paths are boxed so the hot future stays
        // small (it is moved on every call).
        let cache_key = self.results.as_ref().map(|_| token_key(token));
        if let Some(cache_key) = &cache_key
            && let Some(claims) = Box::pin(self.cached_result(cache_key)).await?
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
        let issuer = &self.issuers[idx];
        let policy = &issuer.policy;
        policy.check_header(&header)?;
        jws::check_signature_shape(segments.signature)?;
        let key = issuer.source.key(&self.keys, kid).await?;
        jws::verify_signature(&key, header.alg, &segments)?;
        let claims = Arc::new(policy.check_claims(raw, shared::now_unix())?);
        if let (Some(results), Some(cache_key)) = (&self.results, cache_key) {
            let entry = CachedResult {
                claims: claims.clone(),
                issuer: idx,
                kid: Box::from(kid),
                fingerprint: *key.fingerprint(),
                leeway: policy.leeway,
            };
            results.insert(cache_key, entry).await;
        }
        Ok(claims)
    }

    /// A result-cache hit whose token has not expired and whose key is still
    /// in its issuer's current set.
    async fn cached_result(
        self: &Arc<Self>,
        key: &TokenKey,
    ) -> Result<Option<Arc<Claims>>, VerifyError> {
        let Some(results) = &self.results else {
            return Ok(None);
        };
        let Some(hit) = results.get(key).await else {
            Metrics::inc(&self.metrics.result_cache_misses);
            return Ok(None);
        };
        if shared::now_unix() >= hit.claims.exp.saturating_add(hit.leeway) {
            results.invalidate(key).await;
            return Err(VerifyError::Expired);
        }
        let key_present = match self.issuers.get(hit.issuer) {
            Some(issuer) => {
                issuer
                    .source
                    .holds(&self.keys, &hit.kid, &hit.fingerprint)
                    .await
            }
            None => false,
        };
        if !key_present {
            results.invalidate(key).await;
            Metrics::inc(&self.metrics.result_cache_misses);
            return Ok(None);
        }
        Metrics::inc(&self.metrics.result_cache_hits);
        Ok(Some(hit.claims.clone()))
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
