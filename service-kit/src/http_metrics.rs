//! Prometheus counters for every HTTP response, shared by the services,
//! and the access log's count of dropped lines.
//!
//! Requests are labelled by route *pattern* (never the raw path), method and
//! status, so scanners cannot grow the number of series; unmatched paths and
//! unusual methods share one label value each.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of a `/metrics` answer: what
/// `prometheus_client::encoding::text::encode` writes is OpenMetrics text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: Arc<str>,
    method: &'static str,
    status: u16,
}

/// `http_requests_total{route,method,status}` and
/// `http_request_duration_seconds`; cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<HttpLabels, Counter>,
    latency: Histogram,
    routes: Arc<RouteCounters>,
}

/// The counters of routes whose pattern is a plain path (no parameters),
/// by request path, so a request to one of them neither rebuilds the
/// pattern string nor hashes the label set. Bounded: other routes (and
/// everything past the bound) take the uncached path.
#[derive(Debug, Default)]
struct RouteCounters(RwLock<HashMap<Box<str>, Outcomes>>);

/// The counters of one path, by method and status.
type Outcomes = Vec<(&'static str, u16, Counter)>;

/// At most this many paths, each with at most this many method and status
/// pairs, are cached. (A route's pattern is assumed not to depend on
/// guards other than the method.)
const MAX_CACHED_PATHS: usize = 64;
const MAX_CACHED_OUTCOMES: usize = 16;

impl RouteCounters {
    /// Counts the response if its counter is cached; `false` otherwise.
    fn inc(&self, path: &str, method: &'static str, status: u16) -> bool {
        let Ok(map) = self.0.read() else {
            return false;
        };
        let counter = map.get(path).and_then(|outcomes| {
            outcomes
                .iter()
                .find(|(m, s, _)| *m == method && *s == status)
        });
        match counter {
            Some((_, _, counter)) => {
                counter.inc();
                true
            }
            None => false,
        }
    }

    fn insert(&self, path: &str, method: &'static str, status: u16, counter: &Counter) {
        let Ok(mut map) = self.0.write() else {
            return;
        };
        if map.len() >= MAX_CACHED_PATHS && !map.contains_key(path) {
            return;
        }
        let outcomes = map.entry(Box::from(path)).or_default();
        if outcomes.len() < MAX_CACHED_OUTCOMES
            && !outcomes
                .iter()
                .any(|(m, s, _)| *m == method && *s == status)
        {
            outcomes.push((method, status, counter.clone()));
        }
    }
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
        registry.register_collector(Box::new(AccessLogDropped));
        HttpMetrics {
            requests,
            latency,
            routes: Arc::default(),
        }
    }
}

/// `access_log_dropped_total`, read from [`crate::access_log::dropped`] at
/// scrape time.
#[derive(Debug)]
struct AccessLogDropped;

impl Collector for AccessLogDropped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counter = ConstCounter::new(crate::access_log::dropped());
        counter.encode(encoder.encode_descriptor(
            "access_log_dropped",
            "Access-log lines dropped because the writer fell behind",
            None,
            counter.metric_type(),
        )?)
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
        let status = res.status().as_u16();
        let path = request.path();
        if !metrics.routes.inc(path, method, status) {
            let pattern = request.match_pattern();
            let labels = HttpLabels {
                route: Arc::from(pattern.as_deref().unwrap_or("unmatched")),
                method,
                status,
            };
            let counter = metrics.requests.get_or_create(&labels).clone();
            counter.inc();
            if pattern.as_deref() == Some(path) {
                metrics.routes.insert(path, method, status, &counter);
            }
        }
        metrics.latency.observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpResponse, test};

    #[actix_web::test]
    async fn counts_by_route_pattern_whether_cached_or_not() {
        let mut registry = Registry::default();
        let metrics = web::Data::new(HttpMetrics::register(&mut registry));
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(middleware))
                .app_data(metrics)
                .route("/a", web::get().to(HttpResponse::Ok))
                .route("/b/{id}", web::get().to(HttpResponse::Ok)),
        )
        .await;
        for uri in ["/a", "/a", "/a", "/b/1", "/b/2", "/nowhere", "/nowhere"] {
            test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        }
        let mut text = String::new();
        assert!(prometheus_client::encoding::text::encode(&mut text, &registry).is_ok());
        for want in [
            r#"http_requests_total{route="/a",method="GET",status="200"} 3"#,
            r#"http_requests_total{route="/b/{id}",method="GET",status="200"} 2"#,
            r#"http_requests_total{route="unmatched",method="GET",status="404"} 2"#,
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
    }
}
