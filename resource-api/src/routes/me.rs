//! `GET /v1/me`: who the token says the caller is. Any valid token.

use actix_web::{HttpResponse, web};
use jwks_client::actix::Bearer;
use serde::Serialize;

use crate::startup::ServiceInfo;

#[derive(Debug, Serialize)]
struct Me<'a> {
    service: &'a str,
    sub: &'a str,
    client_id: Option<&'a str>,
    scopes: Vec<&'a str>,
    roles: &'a [String],
    aud: Vec<&'a str>,
    expires_at: i64,
    expires_in: i64,
}

pub async fn me(token: Bearer, service: web::Data<ServiceInfo>) -> HttpResponse {
    let claims = &token.0;
    HttpResponse::Ok().json(Me {
        service: &service.name,
        sub: &claims.sub,
        client_id: claims.client_id.as_deref(),
        scopes: claims.scopes().collect(),
        roles: &claims.roles,
        aud: claims.aud.iter().collect(),
        expires_at: claims.exp,
        expires_in: (claims.exp - shared::now_unix()).max(0),
    })
}
