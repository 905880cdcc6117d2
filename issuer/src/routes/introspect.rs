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

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use shared::request_id::RequestId;

use crate::error::{TokenError, no_store};
use crate::form::Form;
use crate::refresh;
use crate::routes::token::{Ctx, authenticate, peer_ip, read_body};
use crate::startup::AppState;
use crate::store::{self, Client};

/// Clock leeway for `nbf`, seconds.
const LEEWAY: i64 = 5;

#[tracing::instrument(
    skip_all,
    fields(client_id = tracing::field::Empty, active = tracing::field::Empty)
)]
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> HttpResponse {
    match handle(&req, payload, &state, &request_id).await {
        Ok(body) => {
            tracing::Span::current().record("active", body["active"] == true);
            let mut res = HttpResponse::Ok();
            no_store(&mut res);
            res.json(body)
        }
        Err(err) => err.to_response(),
    }
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    request_id: &RequestId,
) -> Result<Value, TokenError> {
    let body = read_body(req, payload).await?;
    let form = Form::parse(&body).map_err(|e| TokenError::InvalidRequest(e.description()))?;
    drop(body);
    let ip = peer_ip(req);
    let ctx = Ctx::new(state, &ip, &request_id.0);
    let client = authenticate(&ctx, req, &form).await?;
    if client.secret_hash.is_none() {
        // A public client proves nothing about itself.
        return Err(TokenError::InvalidClient);
    }
    tracing::Span::current().record("client_id", client.id.as_str());
    let token = form
        .get("token")
        .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    let inactive = json!({ "active": false });
    if refresh::well_formed(token) {
        return Ok(refresh_token(state, &client, token)
            .await?
            .unwrap_or(inactive));
    }
    Ok(access_token(state, token).unwrap_or(inactive))
}

async fn refresh_token(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Option<Value>, TokenError> {
    let row = state
        .store
        .find_refresh(&refresh::hash_token(token))
        .await
        .map_err(|e| TokenError::from_store(&e))?;
    let now = store::now_ms();
    let Some(row) = row else { return Ok(None) };
    let family = &row.family;
    if family.client_id != client.id
        || family.revoked_ms.is_some()
        || row.used_ms.is_some()
        || row.expires_ms <= now
        || family.expires_ms <= now
    {
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

fn access_token(state: &AppState, token: &str) -> Option<Value> {
    let claims = state.keys.current().verify(token)?;
    let now = shared::now_unix();
    if claims.iss != state.issuer_url || claims.exp <= now || claims.nbf > now + LEEWAY {
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
    if claims.roles.is_some() {
        body["username"] = Value::String(claims.sub);
    }
    Some(body)
}
