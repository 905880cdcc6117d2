//! `POST /oauth2/revoke` (RFC 7009) and logout.
//!
//! Client authentication as for the token endpoint. Revoking a refresh token
//! revokes its whole family: that is logout. The answer is 200 with an empty
//! body for every well-formed request from an authenticated client: for an
//! unknown, malformed or already revoked token, and for a token of another
//! client (which is left alone, RFC 7009 section 2.1), so the endpoint
//! reveals nothing about tokens. Access tokens are self-contained and cannot
//! be recalled: they answer 200 and stay valid until they expire (at most
//! `ISSUER_ACCESS_TOKEN_TTL`), which is why that lifetime is short.
//! `token_type_hint` is accepted and not needed. In cookie mode
//! (`ISSUER_REFRESH_COOKIE`) the token may come from the refresh cookie
//! instead (with `X-Requested-With: fetch`), and the answer clears it.

use actix_web::{HttpRequest, HttpResponse, web};
use shared::request_id::RequestId;

use crate::error::{TokenError, no_store};
use crate::form::Form;
use crate::refresh;
use crate::routes::token::{Ctx, authenticate, peer_ip, read_body};
use crate::startup::AppState;
use crate::store;

#[tracing::instrument(
    skip_all,
    fields(client_id = tracing::field::Empty, outcome = tracing::field::Empty)
)]
pub async fn revoke(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> HttpResponse {
    let span = tracing::Span::current();
    match handle(&req, payload, &state, &request_id).await {
        Ok(outcome) => {
            span.record("outcome", outcome);
            let mut res = HttpResponse::Ok();
            no_store(&mut res);
            if state.config.refresh.cookie {
                let clear = refresh::set_cookie(None, std::time::Duration::ZERO);
                res.insert_header((actix_web::http::header::SET_COOKIE, clear));
            }
            res.finish()
        }
        Err(err) => {
            span.record("outcome", err.code().as_str());
            err.to_response()
        }
    }
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    request_id: &RequestId,
) -> Result<&'static str, TokenError> {
    let body = read_body(req, payload).await?;
    let form = Form::parse(&body).map_err(|e| TokenError::InvalidRequest(e.description()))?;
    drop(body);
    let ip = peer_ip(req);
    let ctx = Ctx::new(state, &ip, &request_id.0);
    let client = authenticate(&ctx, req, &form).await?;
    tracing::Span::current().record("client_id", client.id.as_str());
    let cookie = if state.config.refresh.cookie && form.get("token").is_none() {
        refresh::from_cookie(req)?
    } else {
        None
    };
    let token = form
        .get("token")
        .or(cookie.as_deref())
        .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
    if !refresh::well_formed(token) {
        // An access token or garbage: nothing to revoke.
        return Ok("not_revocable");
    }
    let found = state
        .store
        .find_refresh(&refresh::hash_token(token))
        .await
        .map_err(|e| TokenError::from_store(&e))?;
    let Some(row) = found else {
        return Ok("unknown");
    };
    let family = &row.family;
    let detail = format!("family={}", family.id);
    if family.client_id != client.id {
        ctx.audit(
            "revoke_wrong_client",
            Some(&family.subject),
            &client.id,
            Some(&detail),
        )
        .await;
        return Ok("other_client");
    }
    let revoked = state
        .store
        .revoke_family(&family.id, store::now_ms(), "revoked by client")
        .await
        .map_err(|e| TokenError::from_store(&e))?;
    if !revoked {
        return Ok("already_revoked");
    }
    ctx.audit(
        "refresh_revoked",
        Some(&family.subject),
        &client.id,
        Some(&detail),
    )
    .await;
    Ok("revoked")
}
