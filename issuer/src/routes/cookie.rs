//! Cookie mode for browser clients (`ISSUER_REFRESH_COOKIE=true`): the
//! refresh token travels in the [`COOKIE_NAME`] cookie (`HttpOnly; Secure;
//! SameSite=Strict; Path=/oauth2`) instead of the response body, so page
//! scripts never see it. The refresh grant and `/oauth2/revoke` read the
//! cookie when the form has no token; such requests must carry
//! `X-Requested-With: fetch` (a header a cross-site form cannot send, so a
//! CSRF defence on top of `SameSite`) or get 400 `invalid_request`.
//! Revocation clears the cookie.

use actix_web::HttpRequest;
use actix_web::http::header;

use crate::routes::error::TokenError;

/// The refresh-token cookie in cookie mode.
pub const COOKIE_NAME: &str = "issuer_refresh";
/// The header (and value) a request using the cookie must carry.
pub const CSRF_HEADER: (&str, &str) = ("x-requested-with", "fetch");

/// The refresh token from the request's cookie, if any (parsed by
/// [`shared::cookie::find`]). A request that uses it must carry
/// [`CSRF_HEADER`].
pub fn from_cookie(req: &HttpRequest) -> Result<Option<String>, TokenError> {
    let headers = req
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok());
    let found = shared::cookie::find(headers, COOKIE_NAME).map(str::to_owned);
    if found.is_some() {
        let csrf = req
            .headers()
            .get(CSRF_HEADER.0)
            .and_then(|v| v.to_str().ok());
        if csrf != Some(CSRF_HEADER.1) {
            return Err(TokenError::InvalidRequest(
                "a request using the refresh cookie needs X-Requested-With: fetch".into(),
            ));
        }
    }
    Ok(found)
}

/// The `Set-Cookie` value carrying `token` (or clearing it when `None`).
pub fn set_cookie(token: Option<&str>, max_age: std::time::Duration) -> String {
    let (value, max_age) = match token {
        Some(t) => (t, max_age.as_secs()),
        None => ("", 0),
    };
    format!(
        "{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/oauth2; HttpOnly; Secure; SameSite=Strict"
    )
}
