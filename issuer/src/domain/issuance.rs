//! Signing the access token a grant decided on: the RFC 9068 claims, the
//! active key of the key ring, the signing metrics and per-key counts, and
//! the `token_issued` audit event (committed in a group with concurrent
//! requests' events, before the answer: [`crate::store::Store::audit`]).

use std::time::Instant;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use shared::claims::{AccessClaims, Audience};

use crate::audit::Audit;
use crate::domain::{GrantError, Services};

/// What a grant decided to put in the token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub sub: String,
    pub roles: Option<Vec<String>>,
    pub scopes: Vec<String>,
    pub audiences: Vec<String>,
    /// The `jti` when the grant chose it and already audited the issuance
    /// (a refresh rotation records it in its own transaction).
    pub audited_jti: Option<String>,
}

/// A signed access token.
#[derive(Debug)]
pub struct AccessToken {
    pub token: String,
    /// Seconds.
    pub expires_in: i64,
    /// The granted scopes, space-separated (may be empty).
    pub scope: String,
}

/// Signs the token `issued` describes for `client_id` with the active key.
/// `grant` is the metric and audit label.
pub async fn issue(
    services: Services<'_>,
    audit: &Audit<'_>,
    grant: &'static str,
    client_id: &str,
    issued: Issued,
) -> Result<AccessToken, GrantError> {
    let now = shared::now_unix();
    let ttl = i64::try_from(services.config.access_token_ttl.as_secs()).unwrap_or(600);
    let scope = issued.scopes.join(" ");
    let audited = issued.audited_jti.is_some();
    let claims = AccessClaims {
        iss: services.config.issuer_url.clone(),
        sub: issued.sub,
        aud: Audience::from_list(issued.audiences),
        exp: now + ttl,
        iat: now,
        nbf: now,
        jti: match issued.audited_jti {
            Some(jti) => jti,
            None => new_jti().map_err(|e| GrantError::internal("random jti", &e))?,
        },
        client_id: client_id.to_owned(),
        scope,
        roles: issued.roles,
    };
    let keys = services.keys.current();
    let started = Instant::now();
    let token = keys
        .active()
        .sign(&claims)
        .map_err(|e| GrantError::internal("signing failed", &e))?;
    services
        .metrics
        .observe_signing(started.elapsed().as_secs_f64());
    services.metrics.token_issued(grant);
    services.keys.count_signed(keys.active().kid());

    // The audit line (and row) is the record of the issuance; the debug
    // line below adds nothing an operator needs at the default level.
    let kid = keys.active().kid();
    if !audited {
        let detail = format!("grant={grant} jti={} kid={kid}", claims.jti);
        audit
            .write(
                "token_issued",
                Some(&claims.sub),
                Some(client_id),
                Some(&detail),
            )
            .await;
    }
    tracing::debug!(sub = %claims.sub, jti = %claims.jti, kid, "access token issued");
    Ok(AccessToken {
        token,
        expires_in: ttl,
        scope: claims.scope,
    })
}

/// 128 random bits, base64url.
pub fn new_jti() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(shared::b64::encode(bytes))
}
