//! `POST /oauth2/token`: the password, client-credentials and refresh-token
//! grants (rules in [`crate::domain`]).
//!
//! Order of checks: body size and syntax ([`OAuthForm`]), `grant_type`,
//! client authentication ([`client_auth`]), then the grant. Every refusal
//! is an RFC 6749 section 5.2 body with `Cache-Control: no-store` (see
//! [`TokenError`]).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use shared::oauth::TokenResponse;

use crate::domain::grants::{self, Requested};
use crate::domain::{issuance, refresh};
use crate::routes::client_auth;
use crate::routes::cookie;
use crate::routes::error::{TokenError, no_store};
use crate::routes::extract::{OAuthForm, RequestContext};
use crate::state::AppState;

/// The handler. Records the grant type, client and outcome in its span;
/// never a password, secret or token.
#[tracing::instrument(
    skip_all,
    fields(grant_type = tracing::field::Empty, client_id = tracing::field::Empty, outcome = tracing::field::Empty)
)]
pub async fn token(
    req: HttpRequest,
    form: OAuthForm,
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, TokenError> {
    let result = grant(&req, &form, &state, &ctx).await;
    let outcome = match &result {
        Ok(_) => "issued",
        Err(err) => err.code().as_str(),
    };
    tracing::Span::current().record("outcome", outcome);
    result
}

async fn grant(
    req: &HttpRequest,
    form: &OAuthForm,
    state: &AppState,
    ctx: &RequestContext,
) -> Result<HttpResponse, TokenError> {
    let grant = match form.get("grant_type") {
        None => return Err(TokenError::InvalidRequest("grant_type is required".into())),
        Some("password") => Grant::Password,
        Some("client_credentials") => Grant::ClientCredentials,
        Some("refresh_token") => Grant::RefreshToken,
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    };
    let span = tracing::Span::current();
    span.record("grant_type", grant.as_str());

    let audit = ctx.audit(&state.store);
    let services = state.services();
    let client = client_auth::authenticate(req, form, &state.store, &state.metrics, &audit).await?;
    span.record("client_id", client.id.as_str());
    let requested = Requested {
        scope: form.get("scope"),
        audience: form.get("audience"),
    };

    let (issued, refresh) = match grant {
        Grant::Password => {
            let issued = grants::password(
                services,
                &audit,
                &client,
                form.get("username"),
                form.get("password"),
                requested,
            )
            .await?;
            let refresh = refresh::start_family(services, &audit, &client, &issued).await?;
            (issued, Some(refresh))
        }
        Grant::RefreshToken => {
            let cookie = if state.config.refresh.cookie && form.get("refresh_token").is_none() {
                cookie::from_cookie(req)?
            } else {
                None
            };
            let presented = form.get("refresh_token").or(cookie.as_deref());
            let (issued, refresh) =
                refresh::rotate(services, &audit, &client, presented, requested).await?;
            (issued, Some(refresh))
        }
        Grant::ClientCredentials => (grants::client_credentials(&client, requested)?, None),
    };
    let access = issuance::issue(services, &audit, grant.as_str(), &client.id, issued).await?;

    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    // Cookie mode: the refresh token goes in an HttpOnly cookie, not the body.
    let refresh_token = match refresh {
        Some(token) if state.config.refresh.cookie => {
            let cookie = cookie::set_cookie(Some(&token), state.config.refresh.absolute_ttl);
            res.insert_header((header::SET_COOKIE, cookie));
            None
        }
        other => other,
    };
    let body = TokenResponse {
        access_token: access.token,
        token_type: "Bearer".into(),
        expires_in: access.expires_in,
        refresh_token,
        scope: (!access.scope.is_empty()).then_some(access.scope),
    };
    Ok(res.json(body))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Password,
    ClientCredentials,
    RefreshToken,
}

impl Grant {
    fn as_str(self) -> &'static str {
        match self {
            Grant::Password => "password",
            Grant::ClientCredentials => "client_credentials",
            Grant::RefreshToken => "refresh_token",
        }
    }
}
