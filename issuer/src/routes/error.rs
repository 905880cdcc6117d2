//! Token-endpoint errors and their RFC 6749 section 5.2 responses
//! (`/oauth2/token`, `/oauth2/revoke`, `/oauth2/introspect`).
//!
//! Every variant maps to one status and error code with fixed description
//! text; nothing from the request or from an internal error reaches the body.
//! Internal causes are logged once where they are converted (from a
//! [`GrantError`], a [`ClientAuthError`] or a [`StoreError`]). Handlers
//! return `Result<HttpResponse, TokenError>`; [`ResponseError`] renders it
//! with `Cache-Control: no-store`.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use shared::oauth::{OAuthError, OAuthErrorCode};

use crate::domain::GrantError;
use crate::domain::clients::ClientAuthError;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    InvalidRequest(String),
    InvalidClient,
    /// Wrong password and unknown user alike: one fixed body.
    InvalidGrant,
    UnauthorizedClient(&'static str),
    UnsupportedGrantType,
    InvalidScope(&'static str),
    PayloadTooLarge,
    /// Too many failed logins; retry after the duration.
    Throttled(Duration),
    /// The database is unreachable or overloaded.
    Unavailable,
    Internal,
}

impl TokenError {
    /// Logs the cause once and maps it to 503 or 500.
    pub fn from_store(error: &StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(error = %error, "database unavailable");
            TokenError::Unavailable
        } else {
            tracing::error!(error = %error, "database error");
            TokenError::Internal
        }
    }

    /// Logs an internal failure once.
    pub fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what}");
        TokenError::Internal
    }

    fn status(&self) -> StatusCode {
        match self {
            TokenError::InvalidClient => StatusCode::UNAUTHORIZED,
            TokenError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            TokenError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            TokenError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            TokenError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The metric / audit label.
    pub fn code(&self) -> OAuthErrorCode {
        match self {
            TokenError::InvalidRequest(_) | TokenError::PayloadTooLarge => {
                OAuthErrorCode::InvalidRequest
            }
            TokenError::InvalidClient => OAuthErrorCode::InvalidClient,
            TokenError::InvalidGrant => OAuthErrorCode::InvalidGrant,
            TokenError::UnauthorizedClient(_) => OAuthErrorCode::UnauthorizedClient,
            TokenError::UnsupportedGrantType => OAuthErrorCode::UnsupportedGrantType,
            TokenError::InvalidScope(_) => OAuthErrorCode::InvalidScope,
            TokenError::Throttled(_) | TokenError::Unavailable => {
                OAuthErrorCode::TemporarilyUnavailable
            }
            TokenError::Internal => OAuthErrorCode::ServerError,
        }
    }

    fn description(&self) -> String {
        match self {
            TokenError::InvalidRequest(d) => d.clone(),
            TokenError::InvalidClient => "client authentication failed".into(),
            TokenError::InvalidGrant => {
                "invalid username or password, or invalid refresh token".into()
            }
            TokenError::UnauthorizedClient(d) | TokenError::InvalidScope(d) => (*d).into(),
            TokenError::UnsupportedGrantType => {
                "supported grant types: password, client_credentials, refresh_token".into()
            }
            TokenError::PayloadTooLarge => "request body exceeds 64 KiB".into(),
            TokenError::Throttled(_) => "too many failed logins; retry later".into(),
            TokenError::Unavailable => "service temporarily unavailable; retry later".into(),
            TokenError::Internal => "internal error".into(),
        }
    }

    fn to_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status());
        no_store(&mut res);
        match self {
            TokenError::InvalidClient => {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="issuer""#));
            }
            TokenError::Throttled(wait) => {
                // Round up: retrying a moment early would fail again.
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                res.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
            }
            TokenError::Unavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        res.json(OAuthError::new(self.code(), &self.description()))
    }
}

impl std::fmt::Display for TokenError {
    /// The error code and the fixed description (never internal text).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code().as_str(), self.description())
    }
}

impl std::error::Error for TokenError {}

impl ResponseError for TokenError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.to_response()
    }
}

impl From<GrantError> for TokenError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::InvalidRequest(d) => TokenError::InvalidRequest(d.into()),
            GrantError::InvalidGrant => TokenError::InvalidGrant,
            GrantError::UnauthorizedClient(d) => TokenError::UnauthorizedClient(d),
            GrantError::InvalidScope(d) => TokenError::InvalidScope(d),
            GrantError::Throttled(wait) => TokenError::Throttled(wait),
            // Logged where the throttle failed.
            GrantError::ThrottleUnavailable => TokenError::Unavailable,
            // Not logged: a flood would write a line per refused login;
            // `issuer_login_failures_total{reason="busy"}` counts them.
            GrantError::PasswordsBusy => TokenError::Unavailable,
            GrantError::Store(e) => TokenError::from_store(&e),
            GrantError::Internal { what, cause } => TokenError::internal(what, &cause),
        }
    }
}

impl From<ClientAuthError> for TokenError {
    fn from(e: ClientAuthError) -> Self {
        match e {
            ClientAuthError::Invalid => TokenError::InvalidClient,
            ClientAuthError::Store(e) => TokenError::from_store(&e),
        }
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::from_store(&e)
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 section 5.1).
pub fn no_store(res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    res.insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    async fn body_of(res: HttpResponse) -> String {
        let bytes = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn internal_causes_never_reach_the_body_or_display() {
        let err = TokenError::from(GrantError::internal("signing failed", &"cause-text-42"));
        assert_eq!(err, TokenError::Internal);
        assert!(!err.to_string().contains("cause-text-42"));
        let res = err.error_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            res.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let body = body_of(res).await;
        assert!(body.contains("server_error") && !body.contains("cause-text-42"));
    }

    #[tokio::test]
    async fn throttled_rounds_retry_after_up() {
        let err = TokenError::from(GrantError::Throttled(Duration::from_millis(1500)));
        assert_eq!(err.status_code(), StatusCode::TOO_MANY_REQUESTS);
        let res = err.error_response();
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "2");
        assert!(body_of(res).await.contains("temporarily_unavailable"));
        for busy in [GrantError::ThrottleUnavailable, GrantError::PasswordsBusy] {
            let res = TokenError::from(busy).error_response();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "5");
            assert!(body_of(res).await.contains("temporarily_unavailable"));
        }
    }

    #[test]
    fn domain_refusals_keep_their_codes() {
        assert_eq!(
            TokenError::from(GrantError::InvalidGrant).code(),
            OAuthErrorCode::InvalidGrant
        );
        assert_eq!(
            TokenError::from(ClientAuthError::Invalid).status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            TokenError::from(GrantError::InvalidScope("requested scope is not allowed")),
            TokenError::InvalidScope("requested scope is not allowed")
        );
    }
}
