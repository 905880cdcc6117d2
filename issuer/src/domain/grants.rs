//! What a grant may put in a token: scope and audience narrowing
//! ([`grant_list`]), the password grant (throttle, password check, login
//! audit) and the client-credentials grant.

use crate::audit::Audit;
use crate::domain::issuance::Issued;
use crate::domain::{GrantError, Services};
use crate::password::{MAX_PASSWORD_LEN, PasswordError};
use crate::store::{Client, StoreError};

/// Longest accepted username.
pub const MAX_USERNAME_LEN: usize = 256;

/// The `scope` and `audience` a request asked for (space-separated), if
/// any.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requested<'a> {
    pub scope: Option<&'a str>,
    pub audience: Option<&'a str>,
}

/// The values to grant: what the client allows, narrowed by the user's own
/// list when there is one. A request names a subset (space-separated); no
/// request means everything allowed. `None` when the request asks for more.
pub fn grant_list(
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

/// The scopes and audiences allowed by `allowed` (and `user`'s own lists),
/// narrowed by the request. A token always has at least one audience: an
/// empty result is refused here, before a grant spends anything (a refresh
/// token, a login).
pub(crate) fn narrow(
    requested: Requested<'_>,
    scopes: &[String],
    audiences: &[String],
    user: (Option<&[String]>, Option<&[String]>),
) -> Result<(Vec<String>, Vec<String>), GrantError> {
    let scopes = grant_list(requested.scope, scopes, user.0)
        .ok_or(GrantError::InvalidScope("requested scope is not allowed"))?;
    let audiences = grant_list(requested.audience, audiences, user.1).ok_or(
        GrantError::InvalidScope("requested audience is not allowed"),
    )?;
    if audiences.is_empty() {
        return Err(GrantError::InvalidScope(
            "no audience is available to this client",
        ));
    }
    Ok((scopes, audiences))
}

/// `grant_type=client_credentials`: confidential clients only; the token's
/// subject is the client.
pub fn client_credentials(client: &Client, requested: Requested<'_>) -> Result<Issued, GrantError> {
    if client.secret_hash.is_none() {
        return Err(GrantError::UnauthorizedClient(
            "a public client cannot use client_credentials",
        ));
    }
    let (scopes, audiences) = narrow(requested, &client.scopes, &client.audiences, (None, None))?;
    Ok(Issued {
        sub: client.id.clone(),
        roles: None,
        scopes,
        audiences,
        audited_jti: None,
    })
}

/// `grant_type=password`: throttle check, password check (an unknown user
/// costs the same as a wrong password), failure counting, and what the
/// user may receive through this client.
pub async fn password(
    services: Services<'_>,
    audit: &Audit<'_>,
    client: &Client,
    username: Option<&str>,
    password: Option<&str>,
    requested: Requested<'_>,
) -> Result<Issued, GrantError> {
    let (Some(username), Some(password)) = (username, password) else {
        return Err(GrantError::InvalidRequest(
            "username and password are required",
        ));
    };
    if username.len() > MAX_USERNAME_LEN || password.len() > MAX_PASSWORD_LEN {
        return Err(GrantError::InvalidGrant);
    }
    let ip = audit.origin.ip.unwrap_or("unknown");
    let client_id = Some(client.id.as_str());
    let checked = services
        .throttle
        .check(username, ip)
        .await
        .map_err(|e| throttle_unavailable(&e))?;
    if let Some(wait) = checked.retry_after {
        services.metrics.login_failed("throttled");
        audit
            .write("login_throttled", Some(username), client_id, None)
            .await;
        return Err(GrantError::Throttled(wait));
    }
    let user = services.store.find_user(username).await?;
    let verified = services
        .passwords
        .verify(
            password.to_owned(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await
        .map_err(|e| match e {
            PasswordError::Busy => {
                services.metrics.login_failed("busy");
                GrantError::PasswordsBusy
            }
            e => GrantError::internal("password verification failed", &e),
        })?;
    let user = match user {
        Some(user) if verified && !user.disabled => user,
        _ => {
            let recorded = services.throttle.record_failure(username, ip).await;
            services.metrics.login_failed("invalid_grant");
            audit
                .write("login_failed", Some(username), client_id, None)
                .await;
            recorded.map_err(|e| throttle_unavailable(&e))?;
            return Err(GrantError::InvalidGrant);
        }
    };
    services
        .throttle
        .record_success(&user.name, &checked)
        .await
        .map_err(|e| throttle_unavailable(&e))?;
    audit
        .write("login_ok", Some(&user.name), client_id, None)
        .await;

    let (scopes, audiences) = narrow(
        requested,
        &client.scopes,
        &client.audiences,
        (user.scopes.as_deref(), user.audiences.as_deref()),
    )?;
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
fn throttle_unavailable(error: &StoreError) -> GrantError {
    tracing::warn!(error = %error, "login throttle store failed; refusing the login");
    GrantError::ThrottleUnavailable
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
}
