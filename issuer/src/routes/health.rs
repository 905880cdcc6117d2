//! `GET /healthz` (the process is alive), `GET /readyz` (the database answers
//! and an active key is loaded) and `GET /metrics`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::metrics::Metrics;
use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({"status": "ok"}))
}

#[tracing::instrument(skip_all)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.store.ping().await;
    // A KeySet cannot exist without exactly one active key.
    let active = state.keys.current().active().kid().to_owned();
    match db {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({"status": "ready", "active_kid": active})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            HttpResponse::ServiceUnavailable()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({"status": "unavailable", "reason": "database"}))
        }
    }
}

pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type(service_kit::http_metrics::CONTENT_TYPE)
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "encoding metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
