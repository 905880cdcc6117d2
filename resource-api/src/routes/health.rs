//! `GET /healthz` (the process answers) and `GET /readyz` (keys are cached,
//! fresh or within the stale period, so valid tokens will verify).

use actix_web::{HttpResponse, web};
use jwks_client::Verifier;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

pub async fn readyz(verifier: Option<web::Data<Verifier>>) -> HttpResponse {
    let Some(verifier) = verifier else {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "status": "not_ready",
            "reason": "RESOURCE_ISSUER_URL is not set",
        }));
    };
    let issuers = verifier.health();
    let ready = !issuers.is_empty() && issuers.iter().all(|h| h.ready);
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "issuers": issuers.iter().map(|h| serde_json::json!({
            "issuer": h.issuer,
            "keys": h.key_count,
            "last_refresh": h.last_refresh,
            "stale": h.stale,
            "ready": h.ready,
        })).collect::<Vec<_>>(),
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
