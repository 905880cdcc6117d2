//! `/admin/keys`: list, rotate and revoke signing keys
//! (wire types in [`shared::admin`]).
//!
//! Every request needs `Authorization: Bearer <access token>` issued by this
//! issuer: RS256 only, `iss` = `ISSUER_URL`, `aud` containing
//! `ISSUER_ADMIN_AUDIENCE` (default: the issuer URL), `exp`/`nbf` checked,
//! and the scope `keys:admin`. The token is verified by jwks-client's
//! [`Bearer`] extractor with a verifier over this instance's in-memory key
//! set (`LocalKeys`, no HTTP round trip to itself). Give a client the scope with
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

use actix_web::ResponseError as _;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use jwks_client::actix::{AuthError, Bearer};
use service_kit::request_id::RequestId;
use shared::admin::{ADMIN_SCOPE, AdminError, KeyList};

use crate::audit::Origin;
use crate::lifecycle::{self, Actor, AdminOpError};
use crate::routes::error::no_store;
use crate::state::AppState;

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

/// The verified caller, who must hold `keys:admin`.
fn admin(bearer: &Bearer) -> Result<Admin, AuthError> {
    bearer.require_scope(ADMIN_SCOPE)?;
    Ok(Admin {
        subject: bearer.sub.clone(),
        client: bearer.client_id.clone(),
    })
}

fn admin_error(status: StatusCode, error: &str, description: String) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    no_store(&mut res);
    res.json(AdminError {
        error: error.into(),
        error_description: description,
    })
}

/// 404 for an unknown kid, without echoing it.
fn not_found() -> HttpResponse {
    admin_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no signing key with this kid".into(),
    )
}

fn op_error(e: &AdminOpError) -> HttpResponse {
    match e {
        // Fixed text: the kid asked for is not echoed.
        AdminOpError::NotFound(_) => not_found(),
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
pub async fn list(bearer: Bearer, state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = admin(&bearer) {
        return e.error_response();
    }
    // Makes this instance's counts visible before answering.
    match state.keys.key_infos().await {
        Ok(keys) => {
            let current = state.keys.current();
            ok_json(&KeyList {
                keys,
                active_kid: Some(current.active().kid().to_owned()),
                jwks_max_age: current.max_age_at(state.config.jwks_max_age, shared::now_unix()),
            })
        }
        Err(e) => op_error(&AdminOpError::from(e)),
    }
}

/// `POST /admin/keys/rotate`.
#[tracing::instrument(skip_all)]
pub async fn rotate(
    bearer: Bearer,
    req: HttpRequest,
    id: RequestId,
    state: web::Data<AppState>,
) -> HttpResponse {
    let admin = match admin(&bearer) {
        Ok(admin) => admin,
        Err(e) => return e.error_response(),
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
#[tracing::instrument(skip_all, fields(kid))]
pub async fn revoke(
    bearer: Bearer,
    req: HttpRequest,
    id: RequestId,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let admin = match admin(&bearer) {
        Ok(admin) => admin,
        Err(e) => return e.error_response(),
    };
    let kid = path.into_inner();
    if kid.is_empty() || kid.len() > 256 || !shared::b64::is_alphabet(&kid) {
        return not_found();
    }
    // Recorded once it is known to be a plain kid (no line breaks in logs).
    tracing::Span::current().record("kid", kid.as_str());
    let ip = peer(&req);
    let actor = admin.actor(ip.as_deref(), &id.0);
    let result = state.keys.revoke(shared::now_unix(), &kid, actor).await;
    match result {
        Ok(body) => ok_json(&body),
        Err(e) => op_error(&e),
    }
}
