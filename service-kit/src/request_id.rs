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
//! The access-log line written when the response leaves carries both.

use std::future::{Ready, ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tracing::Instrument;

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
/// request id, opens the root span and writes one access-log line.
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
        path = %req.path(),
        sub = tracing::field::Empty,
        auth = tracing::field::Empty,
    );
    req.extensions_mut().insert(RequestId(id));
    let started = Instant::now();
    let probe = is_probe(req.path());
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Some(value) = header {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let _enter = span.enter();
    let status = res.status().as_u16();
    let latency_us = started.elapsed().as_micros() as u64;
    // Health checks and scrapes arrive every few seconds from the platform:
    // their successes are DEBUG, so they do not drown the access log.
    if probe && res.status().is_success() {
        tracing::debug!(status, latency_us, "request finished");
    } else {
        tracing::info!(status, latency_us, "request finished");
    }
    drop(_enter);
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
}
