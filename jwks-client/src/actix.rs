//! actix-web integration (feature `actix`): the [`Bearer`] extractor and
//! RFC 6750 error responses.
//!
//! Register the verifier (and optionally a [`Realm`]) as app data (a
//! `web::Data<Realm>` is shared with each request's [`Bearer`]; a plain
//! `Realm` is copied once per authenticated request):
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, get, web};
//! use jwks_client::actix::{AuthError, Bearer, Realm};
//! use jwks_client::{IssuerConfig, Verifier};
//!
//! #[get("/v1/items")]
//! async fn items(bearer: Bearer) -> Result<HttpResponse, AuthError> {
//!     bearer.require_scope("items:read")?;
//!     Ok(HttpResponse::Ok().body(format!("items of {}", bearer.0.sub)))
//! }
//!
//! # fn app() -> Result<(), jwks_client::BuildError> {
//! let verifier = Verifier::builder()
//!     .issuer(IssuerConfig::new("https://id.example.com").audiences(["orders"]))
//!     .build()?;
//! let app = App::new()
//!     .app_data(web::Data::new(verifier))
//!     .app_data(Realm("orders".into()))
//!     .service(items);
//! # drop(app); Ok(()) }
//! ```
//!
//! A service may hold several verifiers: register each where its routes
//! are, in the same form, e.g. `web::scope("/admin")
//! .app_data(web::Data::new(admin_verifier)).app_data(web::Data::new(Realm(..)))`.
//! actix looks app data up from the innermost scope outwards for one type at
//! a time, so the scope's `web::Data<Verifier>` wins over the app's, but an
//! app-level `web::Data<Verifier>` wins over a scope-level plain `Verifier`
//! (a `web::Data<Verifier>` is looked for first; likewise a plain `Realm`
//! before a `web::Data<Realm>`). A verifier over [`crate::LocalKeys`] (a
//! service checking tokens signed with its own keys) is registered the same
//! way.
//!
//! Responses (bodies are small JSON `{"error", "error_description"}` with
//! fixed texts; the token is never echoed):
//!
//! | situation | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no `Authorization` header, or another scheme | 401 | `Bearer realm="…"` |
//! | token refused | 401 | `Bearer realm="…", error="invalid_token", error_description="…"` |
//! | scope or role missing | 403 | `Bearer realm="…", error="insufficient_scope", error_description="…", scope="…"` |
//! | unparseable header, non-ASCII, empty token, two `Authorization` headers, `access_token` in the query | 400 | `Bearer realm="…", error="invalid_request", …` |
//! | keys unavailable, nothing cached | 503 | none; `Retry-After` |
//!
//! The 403 from [`Bearer::require_scope`] and [`Bearer::require_role`]
//! carries the same `realm` as the extractor's own answers. Tokens in a form
//! body are not inspected (the extractor does not consume the body).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};
use serde::Serialize;
use shared::oauth::{BearerChallenge, BearerError};

use crate::{Claims, Verifier, VerifyError};

/// The `realm` of this service's challenges (app data; default `"api"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realm(pub String);

const DEFAULT_REALM: &str = "api";

/// The verified claims of the request's bearer token (and, privately, the
/// realm its refusals are answered in).
#[derive(Debug, Clone)]
pub struct Bearer(pub Arc<Claims>, RealmName);

/// The realm a [`Bearer`] answers refusals in, shared rather than copied per
/// request when the [`Realm`] is registered as `web::Data<Realm>`.
#[derive(Debug, Clone)]
enum RealmName {
    Default,
    Shared(Arc<Realm>),
    Owned(Arc<str>),
}

impl RealmName {
    fn of(req: &HttpRequest) -> Self {
        if let Some(realm) = req.app_data::<Realm>() {
            RealmName::Owned(Arc::from(realm.0.as_str()))
        } else if let Some(realm) = req.app_data::<web::Data<Realm>>() {
            RealmName::Shared(realm.clone().into_inner())
        } else {
            RealmName::Default
        }
    }

    fn as_str(&self) -> &str {
        match self {
            RealmName::Default => DEFAULT_REALM,
            RealmName::Shared(realm) => &realm.0,
            RealmName::Owned(realm) => realm,
        }
    }
}

/// The realm for a refusal, looked up only when one is answered.
fn realm_of(req: &HttpRequest) -> &str {
    req.app_data::<Realm>()
        .map(|r| r.0.as_str())
        .or_else(|| req.app_data::<web::Data<Realm>>().map(|r| r.0.as_str()))
        .unwrap_or(DEFAULT_REALM)
}

impl Bearer {
    /// `Ok` when the token grants `scope`, else a 403 `insufficient_scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), AuthError> {
        if self.0.has_scope(scope) {
            Ok(())
        } else {
            tracing::info!(scope, "token lacks the required scope");
            Err(AuthError::insufficient(scope, "required scope missing")
                .with_realm(self.1.as_str()))
        }
    }

    /// `Ok` when the token carries `role`, else a 403 `insufficient_scope`.
    pub fn require_role(&self, role: &str) -> Result<(), AuthError> {
        if self.0.has_role(role) {
            Ok(())
        } else {
            tracing::info!(role, "token lacks the required role");
            Err(AuthError::new(
                Kind::InsufficientScope,
                self.1.as_str(),
                "required role missing",
            ))
        }
    }
}

impl std::ops::Deref for Bearer {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    NoCredentials,
    InvalidRequest,
    InvalidToken,
    InsufficientScope,
    Unavailable,
    Misconfigured,
}

/// A failed bearer authentication or authorization, answered per RFC 6750.
#[derive(Debug, Clone)]
pub struct AuthError {
    kind: Kind,
    realm: Option<String>,
    scope: Option<String>,
    description: &'static str,
    retry_after: u64,
}

impl AuthError {
    /// A 403 `insufficient_scope` naming the scope needed.
    pub fn insufficient(scope: &str, description: &'static str) -> Self {
        AuthError {
            kind: Kind::InsufficientScope,
            realm: None,
            scope: Some(scope.to_owned()),
            description,
            retry_after: 0,
        }
    }

    /// Sets the challenge's `realm`.
    pub fn with_realm(mut self, realm: &str) -> Self {
        self.realm = Some(realm.to_owned());
        self
    }

    /// The RFC 6750 error code, if the response carries one.
    pub fn bearer_error(&self) -> Option<BearerError> {
        match self.kind {
            Kind::InvalidRequest => Some(BearerError::InvalidRequest),
            Kind::InvalidToken => Some(BearerError::InvalidToken),
            Kind::InsufficientScope => Some(BearerError::InsufficientScope),
            Kind::NoCredentials | Kind::Unavailable | Kind::Misconfigured => None,
        }
    }

    /// Fixed text for `error_description`.
    pub fn description(&self) -> &'static str {
        self.description
    }

    fn new(kind: Kind, realm: &str, description: &'static str) -> Self {
        AuthError {
            kind,
            realm: Some(realm.to_owned()),
            scope: None,
            description,
            retry_after: 0,
        }
    }

    fn from_verify(e: &VerifyError, realm: &str, verifier: &Verifier) -> Self {
        if e.is_unavailable() {
            AuthError {
                retry_after: verifier.retry_after().as_secs().max(1),
                ..AuthError::new(Kind::Unavailable, realm, e.description())
            }
        } else {
            AuthError::new(Kind::InvalidToken, realm, e.description())
        }
    }

    fn code(&self) -> &'static str {
        match self.kind {
            Kind::NoCredentials => "unauthorized",
            Kind::InvalidRequest => "invalid_request",
            Kind::InvalidToken => "invalid_token",
            Kind::InsufficientScope => "insufficient_scope",
            Kind::Unavailable => "temporarily_unavailable",
            Kind::Misconfigured => "server_error",
        }
    }

    fn challenge(&self) -> Option<String> {
        let realm = self.realm.as_deref();
        match self.kind {
            Kind::Unavailable | Kind::Misconfigured => None,
            Kind::NoCredentials => {
                Some(BearerChallenge::realm(realm.unwrap_or(DEFAULT_REALM)).header_value())
            }
            _ => {
                let error = self.bearer_error()?;
                match realm {
                    Some(realm) => {
                        let mut c = BearerChallenge::error(realm, error, self.description);
                        if let Some(scope) = &self.scope {
                            c = c.with_scope(scope);
                        }
                        Some(c.header_value())
                    }
                    None => {
                        // BearerChallenge always writes a realm; build the
                        // realm-less form by dropping that first parameter.
                        let mut c = BearerChallenge::error("", error, self.description);
                        if let Some(scope) = &self.scope {
                            c = c.with_scope(scope);
                        }
                        let full = c.header_value();
                        Some(full.replacen("realm=\"\", ", "", 1))
                    }
                }
            }
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bearer authentication failed ({}): {}",
            self.code(),
            self.description
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self.kind {
            Kind::NoCredentials | Kind::InvalidToken => StatusCode::UNAUTHORIZED,
            Kind::InvalidRequest => StatusCode::BAD_REQUEST,
            Kind::InsufficientScope => StatusCode::FORBIDDEN,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = self.challenge()
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            res.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if self.kind == Kind::Unavailable {
            res.insert_header((header::RETRY_AFTER, self.retry_after.to_string()));
        }
        let body = serde_json::to_string(&ErrorBody {
            error: self.code(),
            error_description: self.description,
        })
        .unwrap_or_default();
        res.content_type("application/json").body(body)
    }
}

impl FromRequest for Bearer {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The request (a reference-counted handle) moves into the future, so
        // the token is borrowed from its header rather than copied.
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Bearer, AuthError> {
    let span = tracing::Span::current();
    let fail = |e: AuthError| {
        span.record("auth", e.code());
        tracing::info!(
            auth = e.code(),
            reason = e.description,
            "bearer authentication failed"
        );
        Err(e)
    };
    let token = match bearer_token(req) {
        Err(description) => {
            return fail(AuthError::new(
                Kind::InvalidRequest,
                realm_of(req),
                description,
            ));
        }
        Ok(None) => {
            return fail(AuthError::new(
                Kind::NoCredentials,
                realm_of(req),
                "bearer token required",
            ));
        }
        Ok(Some(token)) => token,
    };
    let verifier = req
        .app_data::<web::Data<Verifier>>()
        .map(|v| v.get_ref())
        .or_else(|| req.app_data::<Verifier>());
    let Some(verifier) = verifier else {
        tracing::error!("no jwks_client::Verifier registered as app data");
        return fail(AuthError::new(
            Kind::Misconfigured,
            realm_of(req),
            "server misconfigured",
        ));
    };
    match verifier.verify(token).await {
        Ok(claims) => {
            span.record("sub", claims.sub.as_str());
            span.record("auth", "ok");
            Ok(Bearer(claims, RealmName::of(req)))
        }
        Err(e) => {
            tracing::info!(error = %e, "bearer token refused");
            fail(AuthError::from_verify(&e, realm_of(req), verifier))
        }
    }
}

/// The bearer token of the request, `None` without bearer credentials, or
/// the fixed reason the request is malformed (RFC 6750 `invalid_request`).
fn bearer_token(req: &HttpRequest) -> Result<Option<&str>, &'static str> {
    let in_query = req
        .query_string()
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"));
    if in_query {
        return Err("tokens are accepted only in the Authorization header");
    }
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("more than one Authorization header");
    }
    // Fast path for the common case, `Bearer <b64token>`: one pass over the
    // bytes. The b64token alphabet is plain ASCII, so anything it accepts
    // the full checks below accept too; everything else takes them.
    if let Some(token) = value
        .as_bytes()
        .split_at_checked(7)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|(_, rest)| trim_spaces(rest))
        .filter(|token| is_b64token_bytes(token))
        .and_then(|token| std::str::from_utf8(token).ok())
    {
        return Ok(Some(token));
    }
    let value = value
        .to_str()
        .map_err(|_| "Authorization header is not ASCII")?;
    let (scheme, rest) = match value.split_once(' ') {
        Some(parts) => parts,
        None if value.eq_ignore_ascii_case("bearer") => return Err("empty bearer token"),
        None => return Ok(None),
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err("empty bearer token");
    }
    if !is_b64token(token) {
        return Err("malformed bearer token");
    }
    Ok(Some(token))
}

/// RFC 6750 section 2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    is_b64token_bytes(token.as_bytes())
}

/// `rest` without leading and trailing spaces (only U+0020, as
/// `str::trim_matches(' ')` in the full checks).
fn trim_spaces(mut rest: &[u8]) -> &[u8] {
    while let [b' ', tail @ ..] = rest {
        rest = tail;
    }
    while let [head @ .., b' '] = rest {
        rest = head;
    }
    rest
}

fn is_b64token_bytes(token: &[u8]) -> bool {
    let padding = token.iter().rev().take_while(|b| **b == b'=').count();
    let body = &token[..token.len() - padding];
    // Branch-free per byte and folded without early exit, so the loop
    // vectorises; tokens are hundreds of bytes long.
    !body.is_empty() && body.iter().fold(true, |ok, b| ok & is_b64token_byte(*b))
}

#[inline(always)]
fn is_b64token_byte(b: u8) -> bool {
    // `b | 0x20` folds ASCII upper case onto lower case; every other byte
    // lands outside `a..=z`.
    let alpha = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    let symbol = (b == b'-') | (b == b'.') | (b == b'_') | (b == b'~') | (b == b'+') | (b == b'/');
    alpha | digit | symbol
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64token_accepts_exactly_the_rfc_6750_alphabet() {
        for b in 0..=255u8 {
            let want =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_b64token_byte(b), want, "byte {b:#04x}");
        }
        assert!(is_b64token("abc.DEF-_~+/09=="));
        for bad in ["", "==", "ab=c", "a b", "a,b", "é", "\tabc"] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
        assert_eq!(trim_spaces(b"  a b  "), b"a b");
        assert_eq!(trim_spaces(b"\ta "), b"\ta");
        assert_eq!(trim_spaces(b"   "), b"");
    }
}
