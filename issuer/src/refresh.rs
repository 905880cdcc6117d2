//! Rotating refresh tokens (RFC 9700 section 4.14.2): families, rotation,
//! reuse detection and the grace window.
//!
//! - A token is 256 random bits, base64url (43 characters). Only its
//!   base64url SHA-256 is stored: a hash of a 256-bit random value cannot be
//!   inverted, so a plain digest (no salt, no slow hash) is right, and
//!   lookup by hash needs no constant-time compare.
//! - Every password login starts a family (a session) holding what the login
//!   granted. Each refresh marks the presented token used and issues its
//!   successor in one transaction whose first statement is the conditional
//!   update `... WHERE hash = $n AND used_ms IS NULL`, so of concurrent
//!   refreshes with one token exactly one wins ([`Store::rotate_refresh`]).
//! - Presenting a token that was already rotated revokes the whole family
//!   (`refresh_reuse_detected`): either the legitimate client or an attacker
//!   holds a stolen copy, and the issuer cannot tell which. A caller that
//!   lost a race it observed (the token was unused when it read it) only gets
//!   `invalid_grant`.
//! - Grace window (`ISSUER_REFRESH_GRACE`, default 0): for that long after a
//!   rotation the predecessor of the newest token may be retried (a lost
//!   response); the answer is the same successor, kept sealed under the KEK
//!   on the predecessor row (AAD = the predecessor's hash) and dropped once
//!   the window has passed.
//! - A token is bound to its client; idle and absolute lifetimes bound it;
//!   a disabled or deleted user's refresh fails and revokes the family.
//! - Cookie mode for browser clients (`ISSUER_REFRESH_COOKIE=true`): the
//!   token travels in the [`COOKIE_NAME`] cookie (`HttpOnly; Secure;
//!   SameSite=Strict; Path=/oauth2`) instead of the response body, so page
//!   scripts never see it. The refresh grant and `/oauth2/revoke` read the
//!   cookie when the form has no token; such requests must carry
//!   `X-Requested-With: fetch` (a header a cross-site form cannot send, so a
//!   CSRF defence on top of `SameSite`) or get 400 `invalid_request`.
//!   Revocation clears the cookie.
//!
//! [`Store::rotate_refresh`]: crate::store::Store::rotate_refresh

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

use crate::error::TokenError;
use crate::form::Form;
use crate::routes::token::{Ctx, Issued, grant_list};
use crate::store::{self, Client, NewRefresh, RefreshFamily, RefreshToken, User};

/// Length of a token we issue: 32 bytes in base64url without padding.
pub const TOKEN_LEN: usize = 43;
/// Longest `refresh_token` parameter accepted before it is `invalid_request`.
pub const MAX_PRESENTED_LEN: usize = 1024;

/// A fresh token and its stored hash.
pub fn new_token() -> Result<(String, String), TokenError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|e| TokenError::internal("random refresh token", &e))?;
    let token = shared::b64::encode(bytes);
    let hash = hash_token(&token);
    Ok((token, hash))
}

/// base64url SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> String {
    shared::b64::encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// Whether `token` has the shape of a token we issue.
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN && shared::b64::is_alphabet(token)
}

/// The refresh-token cookie in cookie mode.
pub const COOKIE_NAME: &str = "issuer_refresh";
/// The header (and value) a request using the cookie must carry.
pub const CSRF_HEADER: (&str, &str) = ("x-requested-with", "fetch");

/// The refresh token from the request's cookie, if any. A request that uses
/// it must carry [`CSRF_HEADER`].
pub fn from_cookie(req: &actix_web::HttpRequest) -> Result<Option<String>, TokenError> {
    let mut found = None;
    for value in req.headers().get_all(actix_web::http::header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((name, v)) = pair.trim().split_once('=')
                && name == COOKIE_NAME
                && !v.is_empty()
            {
                found = Some(v.to_owned());
            }
        }
    }
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

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Starts a family for a successful password login; returns its first token.
pub(crate) async fn start_family(
    ctx: &Ctx<'_>,
    client: &Client,
    issued: &Issued,
) -> Result<String, TokenError> {
    let state = ctx.state;
    let now = store::now_ms();
    let refresh = &state.config.refresh;
    let (token, hash) = new_token()?;
    let family = RefreshFamily {
        id: crate::routes::token::new_jti()
            .map_err(|e| TokenError::internal("random family id", &e))?,
        subject: issued.sub.clone(),
        client_id: client.id.clone(),
        scopes: issued.scopes.clone(),
        audiences: issued.audiences.clone(),
        created_ms: now,
        last_used_ms: now,
        expires_ms: now.saturating_add(ms(refresh.absolute_ttl)),
        revoked_ms: None,
        revoked_reason: None,
    };
    let keys = state.keys.current();
    let first = NewRefresh {
        hash: &hash,
        expires_ms: now
            .saturating_add(ms(refresh.idle_ttl))
            .min(family.expires_ms),
        sealed: None,
        signing_kid: Some(keys.active().kid()),
    };
    state
        .store
        .create_refresh_family(&family, &first)
        .await
        .map_err(|e| TokenError::from_store(&e))?;
    let detail = format!("family={}", family.id);
    ctx.audit(
        "refresh_family_started",
        Some(&family.subject),
        &client.id,
        Some(&detail),
    )
    .await;
    Ok(token)
}

/// `grant_type=refresh_token`: what to put in the new access token and the
/// refresh token to return (new, or the same successor on a grace retry).
pub(crate) async fn refresh_grant(
    ctx: &Ctx<'_>,
    form: &Form,
    presented: Option<&str>,
    client: &Client,
) -> Result<(Issued, String), TokenError> {
    let state = ctx.state;
    let token = form
        .get("refresh_token")
        .or(presented)
        .ok_or_else(|| TokenError::InvalidRequest("refresh_token is required".into()))?;
    if token.len() > MAX_PRESENTED_LEN {
        return Err(TokenError::InvalidRequest(
            "refresh_token is too long".into(),
        ));
    }
    if !well_formed(token) {
        return Err(TokenError::InvalidGrant);
    }
    let hash = hash_token(token);
    let (row, user) = state
        .store
        .find_refresh_and_user(&hash)
        .await
        .map_err(|e| TokenError::from_store(&e))?
        .ok_or(TokenError::InvalidGrant)?;
    let family = &row.family;
    if family.client_id != client.id {
        let detail = format!("family={}", family.id);
        ctx.audit(
            "refresh_wrong_client",
            Some(&family.subject),
            &client.id,
            Some(&detail),
        )
        .await;
        return Err(TokenError::InvalidGrant);
    }
    if family.revoked_ms.is_some() {
        return Err(TokenError::InvalidGrant);
    }
    let now = store::now_ms();
    if row.used_ms.is_some() {
        return match grace_successor(ctx, &row, now).await? {
            Some(successor) => {
                let user = live_user(ctx, family, user).await?;
                let issued = narrowed(form, client, &user, family)?;
                let detail = format!("family={}", family.id);
                ctx.audit(
                    "refresh_grace_retry",
                    Some(&family.subject),
                    &client.id,
                    Some(&detail),
                )
                .await;
                Ok((issued, successor))
            }
            None => {
                reuse_detected(ctx, family).await;
                Err(TokenError::InvalidGrant)
            }
        };
    }
    if row.expires_ms <= now || family.expires_ms <= now {
        return Err(TokenError::InvalidGrant);
    }
    let user = live_user(ctx, family, user).await?;
    let mut issued = narrowed(form, client, &user, family)?;

    let refresh = &state.config.refresh;
    let (successor, successor_hash) = new_token()?;
    let sealed = if refresh.grace.is_zero() {
        None
    } else {
        Some(
            state
                .kek
                .seal(&hash, successor.as_bytes())
                .map_err(|e| TokenError::internal("sealing the successor", &e))?,
        )
    };
    let active = state.keys.current();
    let child = NewRefresh {
        hash: &successor_hash,
        expires_ms: now
            .saturating_add(ms(refresh.idle_ttl))
            .min(family.expires_ms),
        sealed: sealed.as_deref(),
        signing_kid: Some(active.active().kid()),
    };
    // The rotation records the access token's issuance in its transaction.
    let jti =
        crate::routes::token::new_jti().map_err(|e| TokenError::internal("random jti", &e))?;
    let rotated = format!("family={} jti={jti}", family.id);
    let event = ctx.audit_event(
        "refresh_rotated",
        Some(&family.subject),
        &client.id,
        Some(&rotated),
    );
    let won = state
        .store
        .rotate_refresh(
            &family.id,
            &hash,
            &child,
            now,
            (!refresh.grace.is_zero()).then(|| now.saturating_sub(ms(refresh.grace))),
            &event,
        )
        .await
        .map_err(|e| TokenError::from_store(&e))?;
    let detail = format!("family={}", family.id);
    if !won {
        // Another request rotated it (or it expired) since we read it.
        let again = find(ctx, &hash).await?.ok_or(TokenError::InvalidGrant)?;
        if again.used_ms.is_some()
            && let Some(successor) = grace_successor(ctx, &again, store::now_ms()).await?
        {
            ctx.audit(
                "refresh_grace_retry",
                Some(&family.subject),
                &client.id,
                Some(&detail),
            )
            .await;
            return Ok((issued, successor));
        }
        ctx.audit(
            "refresh_race_lost",
            Some(&family.subject),
            &client.id,
            Some(&detail),
        )
        .await;
        return Err(TokenError::InvalidGrant);
    }
    ctx.log(&event);
    state.metrics.refresh_rotated();
    issued.audited_jti = Some(jti);
    Ok((issued, successor))
}

async fn find(ctx: &Ctx<'_>, hash: &str) -> Result<Option<RefreshToken>, TokenError> {
    ctx.state
        .store
        .find_refresh(hash)
        .await
        .map_err(|e| TokenError::from_store(&e))
}

/// The successor to hand out again when `row` (already used) is retried
/// inside the grace window and its successor is still the newest token.
async fn grace_successor(
    ctx: &Ctx<'_>,
    row: &RefreshToken,
    now: i64,
) -> Result<Option<String>, TokenError> {
    let state = ctx.state;
    let grace = ms(state.config.refresh.grace);
    let (Some(used), Some(sealed), Some(successor)) =
        (row.used_ms, &row.successor_sealed, &row.successor)
    else {
        return Ok(None);
    };
    if grace == 0 || now.saturating_sub(used) > grace || row.family.revoked_ms.is_some() {
        return Ok(None);
    }
    let Some(next) = find(ctx, successor).await? else {
        return Ok(None);
    };
    if next.used_ms.is_some() || next.family.revoked_ms.is_some() || next.expires_ms <= now {
        return Ok(None);
    }
    let plain = state
        .kek
        .open(&row.hash, sealed)
        .map_err(|e| TokenError::internal("opening a sealed successor", &e))?;
    let token = String::from_utf8(plain)
        .map_err(|e| TokenError::internal("opening a sealed successor", &e))?;
    // The sealed value must be the successor the row names.
    if hash_token(&token) != *successor {
        return Err(TokenError::internal(
            "sealed successor does not match",
            &"hash mismatch",
        ));
    }
    Ok(Some(token))
}

async fn reuse_detected(ctx: &Ctx<'_>, family: &RefreshFamily) {
    let state = ctx.state;
    state.metrics.refresh_reuse_detected();
    match state
        .store
        .revoke_family(&family.id, store::now_ms(), "reuse detected")
        .await
    {
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, family = %family.id, "revoking a family failed"),
    }
    let detail = format!("family={}", family.id);
    tracing::warn!(
        family = %family.id,
        sub = %family.subject,
        "refresh token reuse detected; family revoked"
    );
    ctx.audit(
        "refresh_reuse_detected",
        Some(&family.subject),
        &family.client_id,
        Some(&detail),
    )
    .await;
}

/// The family's user, if it still exists and is enabled; otherwise the
/// family is revoked and the refresh refused.
async fn live_user(
    ctx: &Ctx<'_>,
    family: &RefreshFamily,
    user: Option<User>,
) -> Result<User, TokenError> {
    let state = ctx.state;
    match user {
        Some(user) if !user.disabled => Ok(user),
        _ => {
            if let Err(e) = state
                .store
                .revoke_family(&family.id, store::now_ms(), "user disabled or deleted")
                .await
            {
                tracing::error!(error = %e, family = %family.id, "revoking a family failed");
            }
            let detail = format!("family={}", family.id);
            ctx.audit(
                "refresh_user_inactive",
                Some(&family.subject),
                &family.client_id,
                Some(&detail),
            )
            .await;
            Err(TokenError::InvalidGrant)
        }
    }
}

/// What the new access token carries: the family's grant, still allowed to
/// the client and user now, narrowed by `scope` / `audience` if requested.
fn narrowed(
    form: &Form,
    client: &Client,
    user: &User,
    family: &RefreshFamily,
) -> Result<Issued, TokenError> {
    let scopes_now = grant_list(None, &client.scopes, user.scopes.as_deref()).unwrap_or_default();
    let audiences_now =
        grant_list(None, &client.audiences, user.audiences.as_deref()).unwrap_or_default();
    let scopes = grant_list(form.get("scope"), &family.scopes, Some(&scopes_now))
        .ok_or(TokenError::InvalidScope("requested scope is not allowed"))?;
    let audiences = grant_list(
        form.get("audience"),
        &family.audiences,
        Some(&audiences_now),
    )
    .ok_or(TokenError::InvalidScope(
        "requested audience is not allowed",
    ))?;
    Ok(Issued {
        sub: user.name.clone(),
        roles: Some(user.roles.clone()),
        scopes,
        audiences,
        audited_jti: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_base64url() {
        let (token, hash) = new_token().unwrap_or_default();
        assert!(well_formed(&token));
        assert_eq!(hash, hash_token(&token));
        assert_ne!(new_token().unwrap_or_default().0, token);
        assert!(!well_formed("short"));
        assert!(!well_formed(&"+".repeat(TOKEN_LEN)));
    }
}
