//! Request ids and the per-request root span for actix-web services.
//!
//! An incoming `x-request-id` is kept when it is short and plain
//! (`[A-Za-z0-9._-]{1,64}`), otherwise a fresh one is generated. The id is in
//! the root span of every log line for the request, echoed in the response,
//! and available to handlers as [`RequestId`] for forwarding.
//!
//! The root span declares two empty fields that later layers fill in with
//! `tracing::Span::current().record(..)`: `sub` (the authenticated subject)
//! and `auth` (the authentication outcome, such as `ok` or `invalid_token`).
//! When the response leaves, the middleware emits the access-log event
//! ([`crate::access_log`]): request id, method, route pattern, status and
//! latency, with `sub` and `auth` taken from the span. The raw path is in
//! neither: it is the client's text, the route pattern is ours.

use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tracing::{Instrument, Level};

use crate::access_log;

/// The header carrying the request id in both directions.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(generate()));
        ready(Ok(id))
    }
}

/// Middleware (use with `actix_web::middleware::from_fn`): assigns the
/// request id, opens the root span and ends the request with its
/// access-log event.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(generate);
    let header = HeaderValue::from_str(&id).ok();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        sub = tracing::field::Empty,
        auth = tracing::field::Empty,
    );
    req.extensions_mut().insert(RequestId(id));
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let latency_us = started.elapsed().as_micros() as u64;
    if let Some(value) = &header {
        res.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    }
    // Health checks and scrapes arrive every few seconds from the platform:
    // their successes are DEBUG, so they do not drown the access log.
    let level = if res.status().is_success() && is_probe(res.request().path()) {
        Level::DEBUG
    } else {
        Level::INFO
    };
    let enabled = match level {
        Level::DEBUG => tracing::enabled!(target: access_log::TARGET, Level::DEBUG),
        _ => tracing::enabled!(target: access_log::TARGET, Level::INFO),
    };
    if enabled {
        let request = res.request();
        let route = request.match_pattern();
        let route = route.as_deref().unwrap_or("unmatched");
        let request_id = header.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
        let status = u64::from(res.status().as_u16());
        let method = request.method().as_str();
        let _enter = span.enter();
        if level == Level::DEBUG {
            tracing::debug!(target: access_log::TARGET, request_id, method, route, status, latency_us, "{}", access_log::MESSAGE);
        } else {
            tracing::info!(target: access_log::TARGET, request_id, method, route, status, latency_us, "{}", access_log::MESSAGE);
        }
    }
    Ok(res)
}

/// Paths that orchestrators and scrapers poll.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

fn is_acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// 128 random bits as 32 hex digits.
pub fn generate() -> String {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 16];
    // Filling from the system RNG does not fail on supported platforms; a
    // zero id would still be a valid (if useless) correlation value.
    let _ = SystemRandom::new().fill(&mut bytes);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for b in bytes {
        id.push(char::from(HEX[usize::from(b >> 4)]));
        id.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, HttpResponse, test, web};

    #[actix_web::test]
    async fn keeps_a_plain_incoming_id_and_replaces_a_hostile_one() {
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(middleware))
                .route(
                    "/",
                    web::get().to(|id: RequestId| async move { HttpResponse::Ok().body(id.0) }),
                ),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/")
            .insert_header(("x-request-id", "abc-123"))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(
            res.headers().get("x-request-id").map(|v| v.as_bytes()),
            Some(&b"abc-123"[..])
        );
        assert_eq!(test::read_body(res).await, "abc-123");

        let req = test::TestRequest::get()
            .uri("/")
            .insert_header(("x-request-id", "<script>"))
            .to_request();
        let res = test::call_service(&app, req).await;
        let echoed = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(echoed.len(), 32);
    }

    /// An output the test reads back.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut out = self.0.lock().unwrap_or_else(|p| p.into_inner());
            out.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn the_access_line_has_the_route_pattern_subject_and_outcome_and_no_request_text() {
        use tracing_subscriber::layer::SubscriberExt;
        let out = Shared::default();
        let Ok(log) = access_log::AccessLog::start(false, out.clone()) else {
            panic!("writer thread");
        };
        let _guard =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(log.layer()));
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(middleware))
                .route(
                    "/items/{id}",
                    web::get().to(|| async {
                        let span = tracing::Span::current();
                        span.record("sub", "alice");
                        span.record("auth", "ok");
                        HttpResponse::Ok().finish()
                    }),
                )
                .route("/healthz", web::get().to(HttpResponse::Ok)),
        )
        .await;
        for (uri, id) in [
            ("/items/4242?access_token=SECRET", "abc-123"),
            ("/healthz", "probe-1"),
            ("/nowhere/4242", "lost-1"),
        ] {
            let req = test::TestRequest::get()
                .uri(uri)
                .insert_header(("x-request-id", id))
                .to_request();
            test::call_service(&app, req).await;
        }
        assert!(log.flush(std::time::Duration::from_secs(5)));
        let bytes = out.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].contains(
                "INFO access: request finished request_id=abc-123 method=GET \
                 route=/items/{id} status=200 latency_us="
            ),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with(" sub=alice auth=ok"), "{}", lines[0]);
        assert!(
            lines[1].contains("DEBUG access: request finished request_id=probe-1 method=GET route=/healthz status=200"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].contains("INFO access: request finished request_id=lost-1 method=GET route=unmatched status=404"),
            "{}",
            lines[2]
        );
        assert!(!text.contains("4242") && !text.contains("SECRET"), "{text}");
    }
}
