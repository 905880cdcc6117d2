//! `GET /.well-known/openid-configuration` and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414): one document,
//! built once at start-up.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// The discovery document for `issuer_url` (no trailing slash);
/// `scopes` are those registered clients may receive at start-up.
pub fn document(issuer_url: &str, scopes: &[String]) -> serde_json::Value {
    json!({
        "issuer": issuer_url,
        "jwks_uri": format!("{issuer_url}/.well-known/jwks.json"),
        "token_endpoint": format!("{issuer_url}/oauth2/token"),
        "revocation_endpoint": format!("{issuer_url}/oauth2/revoke"),
        "introspection_endpoint": format!("{issuer_url}/oauth2/introspect"),
        "grant_types_supported": ["password", "client_credentials", "refresh_token"],
        "response_types_supported": ["token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        "access_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "roles"],
    })
}

#[tracing::instrument(skip_all)]
pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("application/json")
        .body(state.discovery.clone())
}
