//! `POST /oauth2/introspect` (RFC 7662).
//!
//! Only confidential clients that authenticate as for the token endpoint may
//! ask (anything else is 401 `invalid_client`). The answer is
//! `{"active":true, …}` with the token's metadata for
//!
//! - a live refresh token of the calling client (not used, revoked or
//!   expired): `token_type` `refresh_token`, `scope`, `client_id`,
//!   `username`, `sub`, `exp`, `iat`;
//! - an access token signed by one of this issuer's published keys, with
//!   this `iss`, not expired and already valid: `token_type`
//!   `access_token`, `scope`, `client_id`, `sub`, `aud`, `exp`, `iat`, `nbf`,
//!   `jti`, `iss` (and `username` for users).
//!
//! Everything else is `{"active":false}`, never an error. An access token
//! stays active until it expires even if its family was revoked (it is
//! self-contained; see `POST /oauth2/revoke`).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::domain::refresh;
use crate::routes::client_auth::AuthenticatedClient;
use crate::routes::error::{TokenError, no_store};
use crate::state::AppState;
use crate::store::Client;

#[tracing::instrument(
    skip_all,
    fields(client_id = tracing::field::Empty, active = tracing::field::Empty)
)]
pub async fn introspect(
    AuthenticatedClient { client, form, .. }: AuthenticatedClient,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TokenError> {
    if client.secret_hash.is_none() {
        // A public client proves nothing about itself.
        return Err(TokenError::InvalidClient);
    }
    tracing::Span::current().record("client_id", client.id.as_str());
    let token = form
        .get("token")
        .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    let inactive = json!({ "active": false });
    let body = if refresh::well_formed(token) {
        refresh_token(&state, &client, token)
            .await?
            .unwrap_or(inactive)
    } else {
        access_token(&state, token).await.unwrap_or(inactive)
    };
    tracing::Span::current().record("active", body["active"] == true);
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    Ok(res.json(body))
}

async fn refresh_token(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Option<Value>, TokenError> {
    let row = state
        .store
        .find_refresh(&refresh::hash_token(token))
        .await?;
    let now = state.clock.now_ms();
    let Some(row) = row else { return Ok(None) };
    let family = &row.family;
    if family.client_id != client.id || !row.is_live(now) {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": family.scopes.join(" "),
        "client_id": family.client_id,
        "username": family.subject,
        "sub": family.subject,
        "exp": row.expires_ms / 1000,
        "iat": row.issued_ms / 1000,
    })))
}

/// An access token is active when jwks-client accepts it (the same strict
/// checks as every resource service: header rules, duplicate members,
/// `crit`, the algorithm allow-list, this `iss`, any audience) and it has
/// not expired (no leeway on `exp`).
async fn access_token(state: &AppState, token: &str) -> Option<Value> {
    let claims = state.introspection.verify(token).await.ok()?;
    if claims.exp <= shared::now_unix() {
        return None;
    }
    let mut body = json!({
        "active": true,
        "token_type": "access_token",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "jti": claims.jti,
    });
    if claims.has_roles_claim() {
        body["username"] = Value::String(claims.sub.clone());
    }
    Some(body)
}
