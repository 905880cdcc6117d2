//! HTTP routes. Protected handlers take a [`Bearer`] argument first, so the
//! token is checked before anything else about the request is read.
//!
//! [`Bearer`]: jwks_client::actix::Bearer

pub mod admin;
pub mod health;
pub mod items;
pub mod me;

use actix_web::HttpResponse;
use serde::Serialize;

/// What handlers know about the service they run in.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub name: String,
}

/// A JSON error body for problems that are not about the token.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub error_description: &'static str,
}

pub fn error(
    status: actix_web::http::StatusCode,
    error: &'static str,
    description: &'static str,
) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error,
        error_description: description,
    })
}

/// `GET /v1/public`: the same shape of work as `/v1/me` without a token, so a
/// benchmark can price verification alone.
pub async fn public(service: actix_web::web::Data<ServiceInfo>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "service": service.name, "public": true }))
}
