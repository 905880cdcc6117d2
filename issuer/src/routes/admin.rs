//! `/admin/keys`: list, rotate and revoke signing keys
//! (wire types in [`shared::admin`]).
//!
//! Every request needs `Authorization: Bearer <access token>` issued by this
//! issuer: RS256 only, `iss` = `ISSUER_URL`, `aud` containing
//! `ISSUER_ADMIN_AUDIENCE` (default: the issuer URL), `exp`/`nbf` checked,
//! and the scope `keys:admin`. The token is verified with jwks-client's
//! [`jwks_client::verify_with_key`] against this instance's in-memory key
//! set (no HTTP round trip to itself). Give a client the scope with
//! `issuer clients add ID --scope keys:admin --audience <issuer url>`.
//!
//! Authentication failures are RFC 6750 answers: 401 without or with an
//! invalid token (`WWW-Authenticate: Bearer realm="issuer"…`), 400 for an
//! unparseable `Authorization` header, 403 `insufficient_scope` naming
//! `keys:admin`. Otherwise 404 for an unknown kid and 409 for a change that
//! is not possible now (revoking the last usable key without a successor,
//! a key already retired or revoked, a rotation already under way or lost
//! to a concurrent one), all with an [`AdminError`] body. Every change
//! writes an audit event with the request id, and this instance replaces
//! its key set at once; other instances follow within their key sync
//! ([`crate::lifecycle::KEY_SYNC_INTERVAL`], 1 s).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use jwks_client::keys::VerifyingKey;
use jwks_client::{Algorithm, IssuerConfig};
use shared::admin::{ADMIN_SCOPE, AdminError, KeyList};
use shared::oauth::{BearerChallenge, BearerError};
use shared::request_id::RequestId;

use crate::audit::Origin;
use crate::keys::KeyState;
use crate::lifecycle::{self, Actor, AdminOpError};
use crate::routes::error::no_store;
use crate::state::AppState;

const REALM: &str = "issuer";

/// Why a request was not authorised (RFC 6750 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthError {
    Missing,
    Malformed,
    Invalid,
    Scope,
}

impl AuthError {
    fn response(self) -> HttpResponse {
        let (status, challenge, error, description) = match self {
            AuthError::Missing => (
                StatusCode::UNAUTHORIZED,
                BearerChallenge::realm(REALM),
                "invalid_token",
                "an access token with scope keys:admin is required",
            ),
            AuthError::Malformed => (
                StatusCode::BAD_REQUEST,
                BearerChallenge::error(
                    REALM,
                    BearerError::InvalidRequest,
                    "malformed Authorization header",
                ),
                "invalid_request",
                "malformed Authorization header",
            ),
            AuthError::Invalid => (
                StatusCode::UNAUTHORIZED,
                BearerChallenge::error(
                    REALM,
                    BearerError::InvalidToken,
                    "the access token is invalid or expired",
                ),
                "invalid_token",
                "the access token is invalid or expired",
            ),
            AuthError::Scope => (
                StatusCode::FORBIDDEN,
                BearerChallenge::error(
                    REALM,
                    BearerError::InsufficientScope,
                    "the access token lacks scope keys:admin",
                )
                .with_scope(ADMIN_SCOPE),
                "insufficient_scope",
                "the access token lacks scope keys:admin",
            ),
        };
        let mut res = HttpResponse::build(status);
        no_store(&mut res);
        res.insert_header((header::WWW_AUTHENTICATE, challenge.header_value()));
        res.json(AdminError {
            error: error.into(),
            error_description: description.into(),
        })
    }
}

/// The verified caller: (subject, client id).
struct Admin {
    subject: String,
    client: Option<String>,
}

impl Admin {
    /// Who made a key change, for its audit event.
    fn actor<'a>(&'a self, ip: Option<&'a str>, request_id: &'a str) -> Actor<'a> {
        Actor {
            subject: Some(&self.subject),
            client: self.client.as_deref(),
            origin: Origin {
                ip,
                request_id: Some(request_id),
            },
        }
    }
}

fn authorize(req: &HttpRequest, state: &AppState) -> Result<Admin, AuthError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::Malformed);
    }
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty()
        || token.contains(' ')
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
    {
        return Err(AuthError::Malformed);
    }
    let kid = token_kid(token).ok_or(AuthError::Invalid)?;
    let keys = state.keys.current();
    let entry = keys
        .entries()
        .iter()
        .find(|e| e.state.published() && e.state != KeyState::Pending && e.key.kid() == kid)
        .ok_or(AuthError::Invalid)?;
    let key = VerifyingKey::from_jwk(entry.key.jwk(), &[Algorithm::RS256])
        .map_err(|_| AuthError::Invalid)?;
    let policy = IssuerConfig::new(state.issuer_url.clone())
        .audiences([state.config.admin_audience()])
        .algorithms(&[Algorithm::RS256]);
    let claims = jwks_client::verify_with_key(token, &key, &policy).map_err(|e| {
        tracing::info!(reason = %e, "admin token refused");
        AuthError::Invalid
    })?;
    if !claims.has_scope(ADMIN_SCOPE) {
        return Err(AuthError::Scope);
    }
    Ok(Admin {
        subject: claims.sub,
        client: claims.client_id,
    })
}

/// The `kid` of a compact JWS header, if it has one.
fn token_kid(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    if header.len() > 4096 {
        return None;
    }
    let header: serde_json::Value =
        serde_json::from_slice(&shared::b64::decode(header).ok()?).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

fn admin_error(status: StatusCode, error: &str, description: String) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    no_store(&mut res);
    res.json(AdminError {
        error: error.into(),
        error_description: description,
    })
}

fn op_error(e: &AdminOpError) -> HttpResponse {
    match e {
        AdminOpError::NotFound(_) => admin_error(StatusCode::NOT_FOUND, "not_found", e.to_string()),
        AdminOpError::Conflict(_) => admin_error(StatusCode::CONFLICT, "conflict", e.to_string()),
        AdminOpError::Failed(cause) => {
            let unavailable =
                matches!(cause, lifecycle::LifecycleError::Store(s) if s.is_unavailable());
            tracing::error!(error = %cause, "key administration failed");
            if unavailable {
                admin_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "service temporarily unavailable; retry later".into(),
                )
            } else {
                admin_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal error".into(),
                )
            }
        }
    }
}

fn ok_json(body: &impl serde::Serialize) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    no_store(&mut res);
    res.json(body)
}

fn peer(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// `GET /admin/keys`.
#[tracing::instrument(skip_all)]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = authorize(&req, &state) {
        return e.response();
    }
    // Makes this instance's counts visible before answering.
    match state.keys.key_infos().await {
        Ok(keys) => {
            let current = state.keys.current();
            ok_json(&KeyList {
                keys,
                active_kid: Some(current.active().kid().to_owned()),
                jwks_max_age: current.max_age_at(state.jwks_max_age, shared::now_unix()),
            })
        }
        Err(e) => op_error(&AdminOpError::from(e)),
    }
}

/// `POST /admin/keys/rotate`.
#[tracing::instrument(skip_all)]
pub async fn rotate(req: HttpRequest, id: RequestId, state: web::Data<AppState>) -> HttpResponse {
    let admin = match authorize(&req, &state) {
        Ok(admin) => admin,
        Err(e) => return e.response(),
    };
    let observed = state.keys.observed_pending();
    let ip = peer(&req);
    let actor = admin.actor(ip.as_deref(), &id.0);
    let result = state
        .keys
        .rotate(
            shared::now_unix(),
            observed.as_ref().map(|(kid, at)| (kid.as_str(), *at)),
            actor,
        )
        .await;
    match result {
        Ok(body) => ok_json(&body),
        Err(e) => op_error(&e),
    }
}

/// `POST /admin/keys/{kid}/revoke`.
#[tracing::instrument(skip_all, fields(kid = %path.as_str()))]
pub async fn revoke(
    req: HttpRequest,
    id: RequestId,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let admin = match authorize(&req, &state) {
        Ok(admin) => admin,
        Err(e) => return e.response(),
    };
    let kid = path.into_inner();
    if kid.is_empty() || kid.len() > 256 || !shared::b64::is_alphabet(&kid) {
        return admin_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no signing key with this kid".into(),
        );
    }
    let ip = peer(&req);
    let actor = admin.actor(ip.as_deref(), &id.0);
    let result = state.keys.revoke(shared::now_unix(), &kid, actor).await;
    match result {
        Ok(body) => ok_json(&body),
        Err(e) => op_error(&e),
    }
}
