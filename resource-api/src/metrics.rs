//! Prometheus metrics: HTTP requests by route and status
//! (`service_kit::http_metrics`), and the key cache's counters read from
//! `jwks-client` at scrape time.

use actix_web::{HttpResponse, web};
use jwks_client::Verifier;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use service_kit::http_metrics::HttpMetrics;

/// The service's metric registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http: HttpMetrics,
}

impl Metrics {
    pub fn new(verifier: Option<Verifier>) -> Self {
        let mut registry = Registry::with_prefix("resource");
        let http = HttpMetrics::register(&mut registry);
        if let Some(verifier) = verifier {
            registry.register_collector(Box::new(KeyCacheCollector(verifier)));
        }
        Metrics { registry, http }
    }

    /// The HTTP counters, for `service_kit::http_metrics::middleware`.
    pub fn http(&self) -> HttpMetrics {
        self.http.clone()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// `GET /metrics`
pub async fn endpoint(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(service_kit::http_metrics::CONTENT_TYPE)
        .body(metrics.render())
}

/// Reads `jwks-client`'s counters on each scrape.
#[derive(Debug)]
struct KeyCacheCollector(Verifier);

impl Collector for KeyCacheCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = self.0.metrics();
        let counters: [(&str, &str, u64); 11] = [
            (
                "jwks_fetch_ok",
                "JWKS fetches that returned a key set",
                m.fetch_ok,
            ),
            (
                "jwks_fetch_error",
                "JWKS fetches that failed",
                m.fetch_error,
            ),
            (
                "jwks_fetch_not_modified",
                "JWKS fetches answered 304",
                m.fetch_not_modified,
            ),
            (
                "jwks_stale_serves",
                "Verifications served from a stale key set",
                m.stale_serves,
            ),
            (
                "jwks_unknown_kid_refreshes",
                "Forced refreshes for an unknown kid",
                m.unknown_kid_refreshes,
            ),
            (
                "jwks_cooldown_rejections",
                "Unknown kids refused inside the cooldown",
                m.cooldown_rejections,
            ),
            (
                "jwks_skipped_keys",
                "JWKS members skipped as unusable",
                m.skipped_keys,
            ),
            (
                "token_result_cache_hits",
                "Verified-token cache hits",
                m.result_cache_hits,
            ),
            (
                "token_result_cache_misses",
                "Verified-token cache misses",
                m.result_cache_misses,
            ),
            (
                "token_verifications_ok",
                "Tokens verified",
                m.verifications_ok,
            ),
            (
                "token_verifications_failed",
                "Tokens refused",
                m.verifications_failed,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        for health in self.0.health() {
            let stale = ConstGauge::new(i64::from(health.stale));
            stale.encode(encoder.encode_descriptor(
                "jwks_stale",
                "1 while the cached key set is past its lifetime (issuer unreachable)",
                None,
                stale.metric_type(),
            )?)?;
            let keys = ConstGauge::new(health.key_count as i64);
            keys.encode(encoder.encode_descriptor(
                "jwks_keys",
                "Usable keys in the cached set",
                None,
                keys.metric_type(),
            )?)?;
        }
        Ok(())
    }
}
