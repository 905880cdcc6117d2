//! `GET /v1/me`: who the token says the caller is. Any valid token.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use jwks_client::actix::Bearer;
use serde::{Serialize, Serializer};
use shared::claims::Audience;

use super::ServiceInfo;

#[derive(Serialize)]
struct Me<'a> {
    service: &'a str,
    sub: &'a str,
    client_id: Option<&'a str>,
    #[serde(serialize_with = "words")]
    scopes: &'a str,
    roles: &'a [String],
    #[serde(serialize_with = "audiences")]
    aud: &'a Audience,
    expires_at: i64,
    expires_in: i64,
}

/// The space-separated scopes as a JSON array, without collecting them.
fn words<S: Serializer>(scopes: &&str, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(scopes.split_ascii_whitespace())
}

/// The audiences as a JSON array, whether the token had one or several.
fn audiences<S: Serializer>(aud: &&Audience, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(aud.iter())
}

impl<'a> Me<'a> {
    fn new(service: &'a str, claims: &'a jwks_client::Claims) -> Self {
        Me {
            service,
            sub: &claims.sub,
            client_id: claims.client_id.as_deref(),
            scopes: &claims.scope,
            roles: &claims.roles,
            aud: &claims.aud,
            expires_at: claims.exp,
            expires_in: (claims.exp - shared::now_unix()).max(0),
        }
    }
}

pub async fn me(token: Bearer, service: web::Data<ServiceInfo>) -> HttpResponse {
    let mut body = Vec::with_capacity(256);
    // Serialising borrowed strings and integers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut body, &Me::new(&service.name, &token.0));
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}
