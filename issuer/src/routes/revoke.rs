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

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::refresh;
use crate::routes::client_auth::AuthenticatedClient;
use crate::routes::cookie;
use crate::routes::error::{TokenError, no_store};
use crate::state::AppState;

#[tracing::instrument(
    skip_all,
    fields(client_id = tracing::field::Empty, outcome = tracing::field::Empty)
)]
pub async fn revoke(
    req: HttpRequest,
    AuthenticatedClient { client, form, ctx }: AuthenticatedClient,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TokenError> {
    let span = tracing::Span::current();
    span.record("client_id", client.id.as_str());
    let audit = ctx.audit(&state.store);
    let outcome = async {
        let cookie = if state.config.refresh.cookie && form.get("token").is_none() {
            cookie::from_cookie(&req)?
        } else {
            None
        };
        let token = form
            .get("token")
            .or(cookie.as_deref())
            .ok_or_else(|| TokenError::InvalidRequest("token is required".into()))?;
        Ok::<_, TokenError>(
            refresh::revoke_by_client(state.services(), &audit, &client, token).await?,
        )
    }
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            span.record("outcome", err.code().as_str());
            return Err(err);
        }
    };
    span.record("outcome", outcome.as_str());
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    if state.config.refresh.cookie {
        let clear = cookie::set_cookie(None, std::time::Duration::ZERO);
        res.insert_header((header::SET_COOKIE, clear));
    }
    Ok(res.finish())
}
