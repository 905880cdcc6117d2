//! Prometheus counters for every HTTP response, shared by the services.
//!
//! Requests are labelled by route *pattern* (never the raw path), method and
//! status, so scanners cannot grow the number of series; unmatched paths and
//! unusual methods share one label value each.

use std::time::Instant;

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
    method: &'static str,
    status: u16,
}

/// `http_requests_total{route,method,status}` and
/// `http_request_duration_seconds`; cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<HttpLabels, Counter>,
    latency: Histogram,
}

impl HttpMetrics {
    /// Creates the metrics and registers them (under the registry's prefix).
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP responses by route pattern, method and status",
            requests.clone(),
        );
        // 50 µs .. ~0.8 s
        let latency = Histogram::new(exponential_buckets(0.000_05, 2.0, 15));
        registry.register(
            "http_request_duration_seconds",
            "Time from request head to response head",
            latency.clone(),
        );
        HttpMetrics { requests, latency }
    }
}

/// Middleware (with `actix_web::middleware::from_fn`) counting every
/// response; finds the [`HttpMetrics`] registered as `web::Data`.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let request = res.request();
        let method = match request.method().as_str() {
            "GET" => "GET",
            "HEAD" => "HEAD",
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "PATCH" => "PATCH",
            "OPTIONS" => "OPTIONS",
            _ => "other",
        };
        let labels = HttpLabels {
            route: request
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned()),
            method,
            status: res.status().as_u16(),
        };
        metrics.requests.get_or_create(&labels).inc();
        metrics.latency.observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}
