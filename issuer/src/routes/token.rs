//! `POST /oauth2/token`: the password, client-credentials and refresh-token
//! grants (refresh tokens: see [`crate::refresh`]).
//!
//! Order of checks: body size and syntax, `grant_type`, client
//! authentication, then the grant. Every refusal is an RFC 6749 section 5.2
//! body with `Cache-Control: no-store` (see [`TokenError`]).

use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use futures_util::StreamExt as _;
use shared::claims::{AccessClaims, Audience};
use shared::oauth::TokenResponse;
use shared::request_id::RequestId;
use subtle::ConstantTimeEq as _;

use crate::error::{TokenError, no_store};
use crate::form::{self, Form};
use crate::password::MAX_PASSWORD_LEN;
use crate::refresh;
use crate::startup::AppState;
use crate::store::{AuditEvent, Client, StoreError};

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Longest accepted username.
pub const MAX_USERNAME_LEN: usize = 256;

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The handler. Records the grant type, client and outcome in its span;
/// never a password, secret or token.
#[tracing::instrument(
    skip_all,
    fields(grant_type = tracing::field::Empty, client_id = tracing::field::Empty, outcome = tracing::field::Empty)
)]
pub async fn token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    request_id: RequestId,
) -> HttpResponse {
    let span = tracing::Span::current();
    match handle(&req, payload, &state, &request_id).await {
        Ok(res) => {
            span.record("outcome", "issued");
            res
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
) -> Result<HttpResponse, TokenError> {
    let body = read_body(req, payload).await?;
    let form = Form::parse(&body).map_err(|e| TokenError::InvalidRequest(e.description()))?;
    drop(body);

    let grant = match form.get("grant_type") {
        None => return Err(TokenError::InvalidRequest("grant_type is required".into())),
        Some("password") => Grant::Password,
        Some("client_credentials") => Grant::ClientCredentials,
        Some("refresh_token") => Grant::RefreshToken,
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    };
    let span = tracing::Span::current();
    span.record("grant_type", grant.as_str());

    let ip = peer_ip(req);
    let ctx = Ctx::new(state, &ip, &request_id.0);

    let client = authenticate(&ctx, req, &form).await?;
    span.record("client_id", client.id.as_str());

    let (issued, refresh) = match grant {
        Grant::Password => {
            let issued = password_grant(&ctx, &form, &client).await?;
            check_audience(&issued)?;
            let refresh = refresh::start_family(&ctx, &client, &issued).await?;
            (issued, Some(refresh))
        }
        Grant::RefreshToken => {
            let cookie = if state.config.refresh.cookie && form.get("refresh_token").is_none() {
                refresh::from_cookie(req)?
            } else {
                None
            };
            let (issued, refresh) =
                refresh::refresh_grant(&ctx, &form, cookie.as_deref(), &client).await?;
            (issued, Some(refresh))
        }
        Grant::ClientCredentials => {
            if client.secret_hash.is_none() {
                return Err(TokenError::UnauthorizedClient(
                    "a public client cannot use client_credentials",
                ));
            }
            let scopes = grant_list(form.get("scope"), &client.scopes, None)
                .ok_or(TokenError::InvalidScope("requested scope is not allowed"))?;
            let audiences = grant_list(form.get("audience"), &client.audiences, None).ok_or(
                TokenError::InvalidScope("requested audience is not allowed"),
            )?;
            let issued = Issued {
                sub: client.id.clone(),
                roles: None,
                scopes,
                audiences,
                audited_jti: None,
            };
            (issued, None)
        }
    };
    issue(&ctx, grant, &client, issued, refresh).await
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

/// What a handler knows about the request, for audit events.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) ip: &'a str,
    pub(crate) request_id: &'a str,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(state: &'a AppState, ip: &'a str, request_id: &'a str) -> Self {
        Ctx {
            state,
            ip,
            request_id,
        }
    }

    /// An audit event for this request, for the caller to store in its own
    /// transaction and then [`log`](Self::log). Never pass a token value.
    pub(crate) fn audit_event<'b>(
        &'b self,
        kind: &'b str,
        subject: Option<&'b str>,
        client: &'b str,
        detail: Option<&'b str>,
    ) -> AuditEvent<'b> {
        AuditEvent {
            kind,
            subject,
            client: Some(client),
            ip: Some(self.ip),
            request_id: Some(self.request_id),
            detail,
        }
    }

    /// Logs an audit event as a structured line (with the request id).
    pub(crate) fn log(&self, event: &AuditEvent<'_>) {
        tracing::info!(
            audit = event.kind,
            subject = event.subject,
            client = event.client,
            detail = event.detail,
            request_id = self.request_id,
            "audit"
        );
    }

    /// Writes an audit event and logs it as a structured line; a failure to
    /// store it is logged, not fatal. Never pass a token value.
    pub(crate) async fn audit(
        &self,
        kind: &str,
        subject: Option<&str>,
        client: &str,
        detail: Option<&str>,
    ) {
        let event = self.audit_event(kind, subject, client, detail);
        self.log(&event);
        if let Err(e) = self.state.store.audit(&event).await {
            tracing::error!(error = %e, kind, "writing audit event failed");
        }
    }
}

/// What a grant decided to put in the token.
pub(crate) struct Issued {
    pub(crate) sub: String,
    pub(crate) roles: Option<Vec<String>>,
    pub(crate) scopes: Vec<String>,
    pub(crate) audiences: Vec<String>,
    /// The `jti` when the grant chose it and already audited the issuance
    /// (a refresh rotation records it in its own transaction).
    pub(crate) audited_jti: Option<String>,
}

pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<Vec<u8>, TokenError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case(FORM_CONTENT_TYPE) {
        return Err(TokenError::InvalidRequest(
            "content type must be application/x-www-form-urlencoded".into(),
        ));
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(TokenError::PayloadTooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(1024).min(MAX_BODY));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| TokenError::InvalidRequest("unreadable request body".into()))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(TokenError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The peer address as text (no proxy headers are trusted).
pub(crate) fn peer_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// [`authenticate_client`], auditing failures (`client_auth_failed`).
pub(crate) async fn authenticate(
    ctx: &Ctx<'_>,
    req: &HttpRequest,
    form: &Form,
) -> Result<Client, TokenError> {
    let err = match authenticate_client(req, form, ctx.state).await {
        Ok(client) => return Ok(client),
        Err(err) => err,
    };
    if err == TokenError::InvalidClient {
        // The claimed id only when it is a plain identifier.
        let claimed = form
            .get("client_id")
            .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic()));
        let event = AuditEvent {
            kind: "client_auth_failed",
            client: claimed,
            ip: Some(ctx.ip),
            request_id: Some(ctx.request_id),
            ..AuditEvent::default()
        };
        if let Err(e) = ctx.state.store.audit(&event).await {
            tracing::error!(error = %e, "writing audit event failed");
        }
    }
    Err(err)
}

/// Client authentication: HTTP Basic (RFC 6749 section 2.3.1, form-encoded
/// id and secret) or `client_id`/`client_secret` form fields, never both. A
/// client without a secret is public: it authenticates by `client_id` alone.
pub(crate) async fn authenticate_client(
    req: &HttpRequest,
    form: &Form,
    state: &AppState,
) -> Result<Client, TokenError> {
    let basic = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(parse_basic(value).ok_or(TokenError::InvalidClient)?),
    };
    let (id, secret) = match basic {
        Some((id, secret)) => {
            if form.get("client_secret").is_some() {
                return Err(TokenError::InvalidRequest(
                    "use one client authentication method".into(),
                ));
            }
            if form.get("client_id").is_some_and(|f| f != id) {
                return Err(TokenError::InvalidRequest(
                    "client_id does not match the Authorization header".into(),
                ));
            }
            (id, Some(secret))
        }
        None => match form.get("client_id") {
            None => return Err(TokenError::InvalidClient),
            Some(id) => (id.to_owned(), form.get("client_secret").map(str::to_owned)),
        },
    };
    if id.len() > 256 {
        return Err(TokenError::InvalidClient);
    }
    let client = state
        .store
        .find_client(&id)
        .await
        .map_err(|e| TokenError::from_store(&e))?;
    let ok = match (&client, secret.as_deref()) {
        (Some(c), Some(secret)) => match &c.secret_hash {
            Some(stored) => secret_matches(secret, stored),
            None => false,
        },
        (Some(c), None) => c.secret_hash.is_none(),
        (None, Some(secret)) => {
            // Same work as a known client, then refuse.
            let _ = secret_matches(secret, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
            false
        }
        (None, None) => false,
    };
    match client {
        Some(client) if ok && !client.disabled => Ok(client),
        _ => {
            state.metrics.login_failed("invalid_client");
            Err(TokenError::InvalidClient)
        }
    }
}

fn parse_basic(value: &header::HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > 2048 {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = form::decode_component(id)?;
    let secret = form::decode_component(secret)?;
    (!id.is_empty()).then_some((id, secret))
}

/// base64url SHA-256 of a client secret, as stored.
pub fn hash_client_secret(secret: &str) -> String {
    shared::b64::encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

/// Compares hashes in constant time.
fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_client_secret(secret);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

async fn password_grant(ctx: &Ctx<'_>, form: &Form, client: &Client) -> Result<Issued, TokenError> {
    let state = ctx.state;
    let (Some(username), Some(password)) = (form.get("username"), form.get("password")) else {
        return Err(TokenError::InvalidRequest(
            "username and password are required".into(),
        ));
    };
    if username.len() > MAX_USERNAME_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(TokenError::InvalidGrant);
    }
    let checked = state
        .throttle
        .check(username, ctx.ip)
        .await
        .map_err(|e| throttle_unavailable(&e))?;
    if let Some(wait) = checked.retry_after {
        state.metrics.login_failed("throttled");
        ctx.audit("login_throttled", Some(username), &client.id, None)
            .await;
        return Err(TokenError::Throttled(wait));
    }
    let user = state
        .store
        .find_user(username)
        .await
        .map_err(|e| TokenError::from_store(&e))?;
    let verified = state
        .passwords
        .verify(
            password.to_owned(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await
        .map_err(|e| TokenError::internal("password verification failed", &e))?;
    let user = match user {
        Some(user) if verified && !user.disabled => user,
        _ => {
            let recorded = state.throttle.record_failure(username, ctx.ip).await;
            state.metrics.login_failed("invalid_grant");
            ctx.audit("login_failed", Some(username), &client.id, None)
                .await;
            recorded.map_err(|e| throttle_unavailable(&e))?;
            return Err(TokenError::InvalidGrant);
        }
    };
    state
        .throttle
        .record_success(&user.name, &checked)
        .await
        .map_err(|e| throttle_unavailable(&e))?;
    ctx.audit("login_ok", Some(&user.name), &client.id, None)
        .await;

    let scopes = grant_list(form.get("scope"), &client.scopes, user.scopes.as_deref())
        .ok_or(TokenError::InvalidScope("requested scope is not allowed"))?;
    let audiences = grant_list(
        form.get("audience"),
        &client.audiences,
        user.audiences.as_deref(),
    )
    .ok_or(TokenError::InvalidScope(
        "requested audience is not allowed",
    ))?;
    Ok(Issued {
        sub: user.name,
        roles: Some(user.roles),
        scopes,
        audiences,
        audited_jti: None,
    })
}

/// A login-throttle store failure fails closed (see [`crate::throttle`]):
/// the login is refused with 503, whatever the database error was, so an
/// attacker cannot trade a broken counter for uncounted guesses.
fn throttle_unavailable(error: &StoreError) -> TokenError {
    tracing::warn!(error = %error, "login throttle store failed; refusing the login");
    TokenError::Unavailable
}

/// The values to grant: what the client allows, narrowed by the user's own
/// list when there is one. A request names a subset (space-separated); no
/// request means everything allowed. `None` when the request asks for more.
pub(crate) fn grant_list(
    requested: Option<&str>,
    client: &[String],
    user: Option<&[String]>,
) -> Option<Vec<String>> {
    let allowed =
        |v: &str| client.iter().any(|c| c == v) && user.is_none_or(|u| u.iter().any(|x| x == v));
    match requested {
        Some(text) => {
            let mut out: Vec<String> = Vec::new();
            for v in text.split(' ').filter(|v| !v.is_empty()) {
                if !allowed(v) {
                    return None;
                }
                if !out.iter().any(|o| o == v) {
                    out.push(v.to_owned());
                }
            }
            Some(out)
        }
        None => Some(client.iter().filter(|v| allowed(v)).cloned().collect()),
    }
}

fn check_audience(issued: &Issued) -> Result<(), TokenError> {
    if issued.audiences.is_empty() {
        return Err(TokenError::InvalidScope(
            "no audience is available to this client",
        ));
    }
    Ok(())
}

async fn issue(
    ctx: &Ctx<'_>,
    grant: Grant,
    client: &Client,
    issued: Issued,
    refresh_token: Option<String>,
) -> Result<HttpResponse, TokenError> {
    let state = ctx.state;
    check_audience(&issued)?;
    let now = shared::now_unix();
    let ttl = i64::try_from(state.access_token_ttl.as_secs()).unwrap_or(600);
    let scope = issued.scopes.join(" ");
    let audited = issued.audited_jti.is_some();
    let claims = AccessClaims {
        iss: state.issuer_url.clone(),
        sub: issued.sub,
        aud: Audience::from_list(issued.audiences),
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: match issued.audited_jti {
            Some(jti) => jti,
            None => new_jti().map_err(|e| TokenError::internal("random jti", &e))?,
        },
        client_id: client.id.clone(),
        scope,
        roles: issued.roles,
    };
    let keys = state.keys.current();
    let started = Instant::now();
    let access_token = keys
        .active()
        .sign(&claims)
        .map_err(|e| TokenError::internal("signing failed", &e))?;
    state
        .metrics
        .observe_signing(started.elapsed().as_secs_f64());
    state.metrics.token_issued(grant.as_str());
    state.count_signed(keys.active().kid());

    if !audited {
        let detail = format!("grant={} jti={}", grant.as_str(), claims.jti);
        ctx.audit("token_issued", Some(&claims.sub), &client.id, Some(&detail))
            .await;
    }
    tracing::info!(sub = %claims.sub, jti = %claims.jti, kid = keys.active().kid(), "access token issued");

    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    // Cookie mode: the refresh token goes in an HttpOnly cookie, not the body.
    let refresh_token = match refresh_token {
        Some(token) if state.config.refresh.cookie => {
            let cookie = refresh::set_cookie(Some(&token), state.config.refresh.absolute_ttl);
            res.insert_header((header::SET_COOKIE, cookie));
            None
        }
        other => other,
    };
    let body = TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ttl,
        refresh_token,
        scope: (!claims.scope.is_empty()).then_some(claims.scope),
    };
    Ok(res.json(body))
}

/// 128 random bits, base64url.
pub(crate) fn new_jti() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(shared::b64::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn grants_are_narrowed_by_client_and_user() {
        let client = s(&["a", "b", "c"]);
        assert_eq!(grant_list(None, &client, None), Some(client.clone()));
        assert_eq!(
            grant_list(Some("b a b"), &client, None),
            Some(s(&["b", "a"]))
        );
        assert_eq!(grant_list(Some("d"), &client, None), None);
        let user = s(&["a", "z"]);
        assert_eq!(grant_list(None, &client, Some(&user)), Some(s(&["a"])));
        assert_eq!(grant_list(Some("b"), &client, Some(&user)), None);
        assert_eq!(grant_list(Some("z"), &client, Some(&user)), None);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let value = header::HeaderValue::from_static("Basic bXklM0FhcHA6cyUyNmsrMQ==");
        // "my%3Aapp:s%26k+1"
        assert_eq!(
            parse_basic(&value),
            Some(("my:app".to_owned(), "s&k 1".to_owned()))
        );
        assert_eq!(
            parse_basic(&header::HeaderValue::from_static("Bearer x")),
            None
        );
    }
}
