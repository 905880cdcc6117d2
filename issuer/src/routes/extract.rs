//! Request extractors for the OAuth endpoints: [`OAuthForm`] (the body:
//! `application/x-www-form-urlencoded` in UTF-8, at most [`MAX_BODY`],
//! strictly parsed) and [`RequestContext`] (peer address and request id,
//! for audit events).

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use futures_util::StreamExt as _;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use service_kit::request_id::RequestId;

use crate::audit::{Audit, Origin};
use crate::form::Form;
use crate::routes::error::TokenError;
use crate::store::Store;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The strictly parsed form body of an OAuth request ([`Form::parse`]);
/// refused with 400 `invalid_request` (wrong content type, a charset other
/// than UTF-8, malformed) or 413 (over [`MAX_BODY`], by `Content-Length` or
/// as read).
#[derive(Debug)]
pub struct OAuthForm(pub Form);

impl std::ops::Deref for OAuthForm {
    type Target = Form;

    fn deref(&self) -> &Form {
        &self.0
    }
}

impl FromRequest for OAuthForm {
    type Error = TokenError;
    type Future = LocalBoxFuture<'static, Result<Self, TokenError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let checked = check_headers(req);
        let mut payload = payload.take();
        Box::pin(async move {
            let declared = checked?;
            let body = read_body(&mut payload, declared).await?;
            let form =
                Form::parse(&body).map_err(|e| TokenError::InvalidRequest(e.description()))?;
            Ok(OAuthForm(form))
        })
    }
}

/// The content type must be a form, in UTF-8 if it names a charset;
/// returns the declared length, refusing one over [`MAX_BODY`].
fn check_headers(req: &HttpRequest) -> Result<Option<usize>, TokenError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = content_type.split(';');
    let mime = parts.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case(FORM_CONTENT_TYPE) {
        return Err(TokenError::InvalidRequest(
            "content type must be application/x-www-form-urlencoded".into(),
        ));
    }
    if !parts.all(utf8_or_other_parameter) {
        return Err(TokenError::InvalidRequest(
            "a form body must be UTF-8 (charset=utf-8 or none)".into(),
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
    Ok(declared)
}

/// `false` for a `charset` parameter naming anything but UTF-8 (the name
/// and value compared without case, the value quoted or not).
fn utf8_or_other_parameter(parameter: &str) -> bool {
    let Some((name, value)) = parameter.split_once('=') else {
        return true;
    };
    if !name.trim().eq_ignore_ascii_case("charset") {
        return true;
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    value.eq_ignore_ascii_case("utf-8")
}

async fn read_body(payload: &mut Payload, declared: Option<usize>) -> Result<Vec<u8>, TokenError> {
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

/// Where a request came from: the peer address as text (no proxy headers
/// are trusted; `unknown` without one) and the request id.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub ip: String,
    pub request_id: String,
}

impl RequestContext {
    pub fn from_request(req: &HttpRequest) -> Self {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map_or_else(service_kit::request_id::generate, |id| id.0.clone());
        RequestContext {
            ip: req
                .peer_addr()
                .map_or_else(|| "unknown".into(), |a| a.ip().to_string()),
            request_id,
        }
    }

    /// The audit origin of this request.
    pub fn origin(&self) -> Origin<'_> {
        Origin {
            ip: Some(&self.ip),
            request_id: Some(&self.request_id),
        }
    }

    /// Audit events of this request, written to `store`.
    pub fn audit<'a>(&'a self, store: &'a Store) -> Audit<'a> {
        Audit::new(store, self.origin())
    }
}

impl FromRequest for RequestContext {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(RequestContext::from_request(req)))
    }
}
