//! Prometheus metrics (text exposition at `GET /metrics`).
//!
//! - `issuer_http_requests_total{route,method,status}`: every response, by
//!   route pattern (never the raw path, so cardinality stays bounded).
//! - `issuer_tokens_issued_total{grant}`.
//! - `issuer_login_failures_total{reason}`.
//! - `issuer_token_signing_seconds`: time to sign one token.
//! - `issuer_refresh_rotations_total`: refresh tokens rotated.
//! - `issuer_refresh_reuse_detected_total`: rotated tokens presented again
//!   (each revokes a family).

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: u16,
}

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
    http: Family<HttpLabels, Counter>,
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
        let http = Family::<HttpLabels, Counter>::default();
        let tokens = Family::<GrantLabels, Counter>::default();
        let login_failures = Family::<ReasonLabels, Counter>::default();
        // 50 µs .. ~100 ms
        let signing = Histogram::new(exponential_buckets(0.000_05, 2.0, 12));
        registry.register(
            "http_requests",
            "HTTP responses by route and status",
            http.clone(),
        );
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

    fn http_response(&self, route: String, method: String, status: u16) {
        self.inner
            .http
            .get_or_create(&HttpLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }
}

/// Middleware counting responses by route pattern (`from_fn`).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let request = res.request();
        // Unmatched paths and unusual methods share one label value each.
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let method = match request.method().as_str() {
            m @ ("GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS") => m,
            _ => "other",
        };
        metrics.http_response(route, method.to_owned(), res.status().as_u16());
    }
    Ok(res)
}
