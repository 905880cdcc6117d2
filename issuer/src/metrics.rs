//! Prometheus metrics (text exposition at `GET /metrics`).
//!
//! - `issuer_http_requests_total{route,method,status}` and
//!   `issuer_http_request_duration_seconds`: every response, by route
//!   pattern (`service_kit::http_metrics`).
//! - `issuer_tokens_issued_total{grant}`.
//! - `issuer_login_failures_total{reason}`.
//! - `issuer_token_signing_seconds`: time to sign one token.
//! - `issuer_refresh_rotations_total`: refresh tokens rotated.
//! - `issuer_refresh_reuse_detected_total`: rotated tokens presented again
//!   (each revokes a family).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use service_kit::http_metrics::HttpMetrics;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// The issuer's metrics and their registry; cheap to clone.
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    http: HttpMetrics,
    tokens: Family<GrantLabels, Counter>,
    login_failures: Family<ReasonLabels, Counter>,
    signing: Histogram,
    refresh_rotations: Counter,
    refresh_reuse: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("issuer");
        let http = HttpMetrics::register(&mut registry);
        let tokens = Family::<GrantLabels, Counter>::default();
        let login_failures = Family::<ReasonLabels, Counter>::default();
        // 50 µs .. ~100 ms
        let signing = Histogram::new(exponential_buckets(0.000_05, 2.0, 12));
        registry.register(
            "tokens_issued",
            "Access tokens issued by grant type",
            tokens.clone(),
        );
        registry.register(
            "login_failures",
            "Failed logins by reason",
            login_failures.clone(),
        );
        registry.register(
            "token_signing_seconds",
            "Time to sign one access token",
            signing.clone(),
        );
        let refresh_rotations = Counter::default();
        let refresh_reuse = Counter::default();
        registry.register(
            "refresh_rotations",
            "Refresh tokens rotated",
            refresh_rotations.clone(),
        );
        registry.register(
            "refresh_reuse_detected",
            "Rotated refresh tokens presented again (family revoked)",
            refresh_reuse.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                http,
                tokens,
                login_failures,
                signing,
                refresh_rotations,
                refresh_reuse,
            }),
        }
    }

    pub fn token_issued(&self, grant: &'static str) {
        self.inner
            .tokens
            .get_or_create(&GrantLabels { grant })
            .inc();
    }

    pub fn login_failed(&self, reason: &'static str) {
        self.inner
            .login_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn refresh_rotated(&self) {
        self.inner.refresh_rotations.inc();
    }

    pub fn refresh_reuse_detected(&self) {
        self.inner.refresh_reuse.inc();
    }

    pub fn observe_signing(&self, seconds: f64) {
        self.inner.signing.observe(seconds);
    }

    /// The HTTP counters, for `service_kit::http_metrics::middleware`.
    pub fn http(&self) -> HttpMetrics {
        self.inner.http.clone()
    }

    /// The text exposition format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }
}
