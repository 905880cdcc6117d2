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
//! - Times come from the injected [`crate::clock::Clock`], so tests advance
//!   it instead of sleeping. Revocation by the client (`/oauth2/revoke`,
//!   logout) revokes the family: [`revoke_by_client`].
//!
//! [`Store::rotate_refresh`]: crate::store::Store::rotate_refresh

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

use crate::audit::Audit;
use crate::domain::grants::{Requested, grant_list, narrow};
use crate::domain::issuance::{Issued, new_jti};
use crate::domain::{GrantError, Services, ms};
use crate::store::{Client, NewRefresh, RefreshFamily, RefreshToken, StoreError, User};

/// Length of a token we issue: 32 bytes in base64url without padding.
pub const TOKEN_LEN: usize = 43;
/// Longest `refresh_token` parameter accepted before it is `invalid_request`.
pub const MAX_PRESENTED_LEN: usize = 1024;

/// A fresh token and its stored hash.
pub fn new_token() -> Result<(String, String), GrantError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|e| GrantError::internal("random refresh token", &e))?;
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

/// What a refresh-token operation works with: the services and the audit
/// origin.
struct Exchange<'a> {
    services: Services<'a>,
    audit: &'a Audit<'a>,
}

impl Exchange<'_> {
    async fn audit(&self, kind: &str, family: &RefreshFamily, client: &str) {
        let detail = format!("family={}", family.id);
        self.audit
            .write(kind, Some(&family.subject), Some(client), Some(&detail))
            .await;
    }
}

/// Starts a family for a successful password login; returns its first token.
pub async fn start_family(
    services: Services<'_>,
    audit: &Audit<'_>,
    client: &Client,
    issued: &Issued,
) -> Result<String, GrantError> {
    let now = services.clock.now_ms();
    let refresh = &services.config.refresh;
    let (token, hash) = new_token()?;
    let family = RefreshFamily {
        id: new_jti().map_err(|e| GrantError::internal("random family id", &e))?,
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
    let keys = services.keys.current();
    let first = NewRefresh {
        hash: &hash,
        expires_ms: now
            .saturating_add(ms(refresh.idle_ttl))
            .min(family.expires_ms),
        sealed: None,
        signing_kid: Some(keys.active().kid()),
    };
    services
        .store
        .create_refresh_family(&family, &first)
        .await?;
    let x = Exchange { services, audit };
    x.audit("refresh_family_started", &family, &client.id).await;
    Ok(token)
}

/// `grant_type=refresh_token` with `presented` (the form field or the
/// cookie): what to put in the new access token and the refresh token to
/// return (new, or the same successor on a grace retry).
pub async fn rotate(
    services: Services<'_>,
    audit: &Audit<'_>,
    client: &Client,
    presented: Option<&str>,
    requested: Requested<'_>,
) -> Result<(Issued, String), GrantError> {
    let token = presented.ok_or(GrantError::InvalidRequest("refresh_token is required"))?;
    if token.len() > MAX_PRESENTED_LEN {
        return Err(GrantError::InvalidRequest("refresh_token is too long"));
    }
    if !well_formed(token) {
        return Err(GrantError::InvalidGrant);
    }
    let x = Exchange { services, audit };
    let hash = hash_token(token);
    let (row, user) = services
        .store
        .find_refresh_and_user(&hash)
        .await?
        .ok_or(GrantError::InvalidGrant)?;
    let family = &row.family;
    if family.client_id != client.id {
        x.audit("refresh_wrong_client", family, &client.id).await;
        return Err(GrantError::InvalidGrant);
    }
    if family.revoked_ms.is_some() {
        return Err(GrantError::InvalidGrant);
    }
    let now = services.clock.now_ms();
    if row.used_ms.is_some() {
        return match grace_successor(&x, &row, now).await? {
            Some(successor) => {
                let user = live_user(&x, family, user).await?;
                let issued = narrowed(requested, client, &user, family)?;
                x.audit("refresh_grace_retry", family, &client.id).await;
                Ok((issued, successor))
            }
            None => {
                reuse_detected(&x, family).await;
                Err(GrantError::InvalidGrant)
            }
        };
    }
    if row.expires_ms <= now || family.expires_ms <= now {
        return Err(GrantError::InvalidGrant);
    }
    let user = live_user(&x, family, user).await?;
    let mut issued = narrowed(requested, client, &user, family)?;

    let refresh = &services.config.refresh;
    let (successor, successor_hash) = new_token()?;
    let sealed = if refresh.grace.is_zero() {
        None
    } else {
        Some(
            services
                .keys
                .kek()
                .seal(&hash, successor.as_bytes())
                .map_err(|e| GrantError::internal("sealing the successor", &e))?,
        )
    };
    let active = services.keys.current();
    let child = NewRefresh {
        hash: &successor_hash,
        expires_ms: now
            .saturating_add(ms(refresh.idle_ttl))
            .min(family.expires_ms),
        sealed: sealed.as_deref(),
        signing_kid: Some(active.active().kid()),
    };
    // The rotation records the access token's issuance in its transaction.
    let jti = new_jti().map_err(|e| GrantError::internal("random jti", &e))?;
    let rotated = format!("family={} jti={jti}", family.id);
    let event = audit.origin.event(
        "refresh_rotated",
        Some(&family.subject),
        Some(&client.id),
        Some(&rotated),
    );
    let won = services
        .store
        .rotate_refresh(
            &family.id,
            &hash,
            &child,
            now,
            (!refresh.grace.is_zero()).then(|| now.saturating_sub(ms(refresh.grace))),
            &event,
        )
        .await?;
    if !won {
        // Another request rotated it (or it expired) since we read it.
        let again = services
            .store
            .find_refresh(&hash)
            .await?
            .ok_or(GrantError::InvalidGrant)?;
        if again.used_ms.is_some()
            && let Some(successor) = grace_successor(&x, &again, services.clock.now_ms()).await?
        {
            x.audit("refresh_grace_retry", family, &client.id).await;
            return Ok((issued, successor));
        }
        x.audit("refresh_race_lost", family, &client.id).await;
        return Err(GrantError::InvalidGrant);
    }
    audit.origin.log(&event);
    services.metrics.refresh_rotated();
    issued.audited_jti = Some(jti);
    Ok((issued, successor))
}

/// The successor to hand out again when `row` (already used) is retried
/// inside the grace window and its successor is still the newest token.
async fn grace_successor(
    x: &Exchange<'_>,
    row: &RefreshToken,
    now: i64,
) -> Result<Option<String>, GrantError> {
    let grace = ms(x.services.config.refresh.grace);
    let (Some(used), Some(sealed), Some(successor)) =
        (row.used_ms, &row.successor_sealed, &row.successor)
    else {
        return Ok(None);
    };
    if grace == 0 || now.saturating_sub(used) > grace || row.family.revoked_ms.is_some() {
        return Ok(None);
    }
    let Some(next) = x.services.store.find_refresh(successor).await? else {
        return Ok(None);
    };
    if !next.is_live(now) {
        return Ok(None);
    }
    let plain = x
        .services
        .keys
        .kek()
        .open(&row.hash, sealed)
        .map_err(|e| GrantError::internal("opening a sealed successor", &e))?;
    let token = String::from_utf8(plain)
        .map_err(|e| GrantError::internal("opening a sealed successor", &e))?;
    // The sealed value must be the successor the row names.
    if hash_token(&token) != *successor {
        return Err(GrantError::internal(
            "sealed successor does not match",
            &"hash mismatch",
        ));
    }
    Ok(Some(token))
}

async fn reuse_detected(x: &Exchange<'_>, family: &RefreshFamily) {
    let services = x.services;
    services.metrics.refresh_reuse_detected();
    if let Err(e) = services
        .store
        .revoke_family(&family.id, services.clock.now_ms(), "reuse detected")
        .await
    {
        tracing::error!(error = %e, family = %family.id, "revoking a family failed");
    }
    tracing::warn!(
        family = %family.id,
        sub = %family.subject,
        "refresh token reuse detected; family revoked"
    );
    x.audit("refresh_reuse_detected", family, &family.client_id)
        .await;
}

/// The family's user, if it still exists and is enabled; otherwise the
/// family is revoked and the refresh refused.
async fn live_user(
    x: &Exchange<'_>,
    family: &RefreshFamily,
    user: Option<User>,
) -> Result<User, GrantError> {
    match user {
        Some(user) if !user.disabled => Ok(user),
        _ => {
            let services = x.services;
            if let Err(e) = services
                .store
                .revoke_family(
                    &family.id,
                    services.clock.now_ms(),
                    "user disabled or deleted",
                )
                .await
            {
                tracing::error!(error = %e, family = %family.id, "revoking a family failed");
            }
            x.audit("refresh_user_inactive", family, &family.client_id)
                .await;
            Err(GrantError::InvalidGrant)
        }
    }
}

/// What the new access token carries: the family's grant, still allowed to
/// the client and user now, narrowed by `scope` / `audience` if requested.
fn narrowed(
    requested: Requested<'_>,
    client: &Client,
    user: &User,
    family: &RefreshFamily,
) -> Result<Issued, GrantError> {
    let scopes_now = grant_list(None, &client.scopes, user.scopes.as_deref()).unwrap_or_default();
    let audiences_now =
        grant_list(None, &client.audiences, user.audiences.as_deref()).unwrap_or_default();
    let (scopes, audiences) = narrow(
        requested,
        &family.scopes,
        &family.audiences,
        (Some(&scopes_now), Some(&audiences_now)),
    )?;
    Ok(Issued {
        sub: user.name.clone(),
        roles: Some(user.roles.clone()),
        scopes,
        audiences,
        audited_jti: None,
    })
}

/// What [`revoke_by_client`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Not shaped like a refresh token (an access token, or garbage).
    NotRevocable,
    Unknown,
    /// Another client's token: left alone (RFC 7009 section 2.1).
    OtherClient,
    AlreadyRevoked,
    Revoked,
}

impl Revoked {
    /// The log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Revoked::NotRevocable => "not_revocable",
            Revoked::Unknown => "unknown",
            Revoked::OtherClient => "other_client",
            Revoked::AlreadyRevoked => "already_revoked",
            Revoked::Revoked => "revoked",
        }
    }
}

/// Logout: revokes the family of `token` if it belongs to `client`.
pub async fn revoke_by_client(
    services: Services<'_>,
    audit: &Audit<'_>,
    client: &Client,
    token: &str,
) -> Result<Revoked, StoreError> {
    if !well_formed(token) {
        return Ok(Revoked::NotRevocable);
    }
    let Some(row) = services.store.find_refresh(&hash_token(token)).await? else {
        return Ok(Revoked::Unknown);
    };
    let x = Exchange { services, audit };
    let family = &row.family;
    if family.client_id != client.id {
        x.audit("revoke_wrong_client", family, &client.id).await;
        return Ok(Revoked::OtherClient);
    }
    let revoked = services
        .store
        .revoke_family(&family.id, services.clock.now_ms(), "revoked by client")
        .await?;
    if !revoked {
        return Ok(Revoked::AlreadyRevoked);
    }
    x.audit("refresh_revoked", family, &client.id).await;
    Ok(Revoked::Revoked)
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
