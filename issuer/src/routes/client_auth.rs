//! Client authentication on the OAuth endpoints (token, revoke,
//! introspect): the credentials come from HTTP Basic (RFC 6749 section
//! 2.3.1, form-encoded id and secret) or the `client_id`/`client_secret`
//! form fields, never both; [`crate::domain::clients::authenticate`] checks
//! them. A failure counts `invalid_client` and writes the
//! `client_auth_failed` audit event.
//!
//! Revocation and introspection take the [`AuthenticatedClient`]
//! extractor; the token endpoint checks `grant_type` first and then calls
//! [`authenticate`] itself.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::audit::Audit;
use crate::domain::clients::{self, ClientAuthError};
use crate::form::Form;
use crate::metrics::Metrics;
use crate::routes::error::TokenError;
use crate::routes::extract::{OAuthForm, RequestContext};
use crate::state::AppState;
use crate::store::{Client, Store};

/// An OAuth request whose client authenticated: its form, its context and
/// the client. Extracting it reads the body ([`OAuthForm`]) and
/// authenticates with [`authenticate`]; a refusal is the RFC 6749 answer.
#[derive(Debug)]
pub struct AuthenticatedClient {
    pub client: Client,
    pub form: OAuthForm,
    pub ctx: RequestContext,
}

impl FromRequest for AuthenticatedClient {
    type Error = TokenError;
    type Future = LocalBoxFuture<'static, Result<Self, TokenError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = OAuthForm::from_request(req, payload);
        let ctx = RequestContext::from_request(req);
        let req = req.clone();
        Box::pin(async move {
            let form = form.await?;
            let Some(state) = req.app_data::<web::Data<AppState>>() else {
                return Err(TokenError::internal(
                    "client authentication",
                    &"no application state",
                ));
            };
            let audit = ctx.audit(&state.store);
            let client = authenticate(&req, &form, &state.store, &state.metrics, &audit).await?;
            Ok(AuthenticatedClient { client, form, ctx })
        })
    }
}

/// The authenticated client of `req`, or the refusal (audited).
pub async fn authenticate(
    req: &HttpRequest,
    form: &Form,
    store: &Store,
    metrics: &Metrics,
    audit: &Audit<'_>,
) -> Result<Client, TokenError> {
    let err = match authenticate_client(req, form, store, metrics).await {
        Ok(client) => return Ok(client),
        Err(err) => err,
    };
    if err == TokenError::InvalidClient {
        // The claimed id only when it is a plain identifier.
        let claimed = form
            .get("client_id")
            .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic()));
        audit.write("client_auth_failed", None, claimed, None).await;
    }
    Err(err)
}

/// The credentials of `req` (one method only), checked against the store.
/// Two `Authorization` headers, or Basic together with a `client_secret`
/// field, are 400 `invalid_request`.
async fn authenticate_client(
    req: &HttpRequest,
    form: &Form,
    store: &Store,
    metrics: &Metrics,
) -> Result<Client, TokenError> {
    // RFC 6749 section 2.3: one authentication method. A second header
    // would make the answer depend on which one a reader takes.
    let mut headers = req.headers().get_all(header::AUTHORIZATION);
    let first = headers.next();
    if headers.next().is_some() {
        return Err(TokenError::InvalidRequest(
            "more than one Authorization header".into(),
        ));
    }
    let basic = match first {
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
    match clients::authenticate(store, &id, secret.as_deref()).await {
        Ok(client) => Ok(client),
        Err(ClientAuthError::Invalid) => {
            metrics.login_failed("invalid_client");
            Err(TokenError::InvalidClient)
        }
        Err(e) => Err(e.into()),
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))`, parsed by
/// [`shared::basic::parse`].
pub fn parse_basic(value: &header::HeaderValue) -> Option<(String, String)> {
    shared::basic::parse(value.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
