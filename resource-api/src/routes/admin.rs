//! `GET /v1/admin`: role `admin` only.

use actix_web::{HttpResponse, web};
use jwks_client::actix::{AuthError, Bearer};

use super::ServiceInfo;

pub const ADMIN_ROLE: &str = "admin";

pub async fn admin(
    token: Bearer,
    service: web::Data<ServiceInfo>,
) -> Result<HttpResponse, AuthError> {
    token.require_role(ADMIN_ROLE)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "service": service.name,
        "sub": token.0.sub,
        "admin": true,
    })))
}
