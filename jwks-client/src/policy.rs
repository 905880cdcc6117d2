//! The verification policy of one issuer, compiled from [`IssuerConfig`],
//! and the claim checks that run after the signature verifies.

use crate::config::{Algorithm, Audiences, IssuerConfig, RequiredClaim};
use crate::error::VerifyError;
use crate::jws::{Claims, Header, RawClaims};

#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub issuer: String,
    pub audiences: Audiences,
    pub algorithms: Vec<Algorithm>,
    pub leeway: i64,
    pub required_typ: Option<String>,
    pub required: Vec<RequiredClaim>,
}

impl Policy {
    pub fn new(cfg: &IssuerConfig) -> Self {
        Policy {
            issuer: cfg.issuer.clone(),
            audiences: cfg.audiences.clone(),
            algorithms: cfg.algorithms.clone(),
            leeway: cfg.leeway.as_secs() as i64,
            required_typ: cfg.required_typ.clone(),
            required: cfg.required_claims.clone(),
        }
    }

    /// Algorithm allow-list and `typ`.
    pub fn check_header(&self, header: &Header) -> Result<(), VerifyError> {
        if !self.algorithms.contains(&header.alg) {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        if let Some(required) = &self.required_typ
            && !header.typ().is_some_and(|t| typ_matches(t, required))
        {
            return Err(VerifyError::WrongType);
        }
        Ok(())
    }

    /// Time claims with leeway, then `iss`, `aud` and the required claims.
    /// Runs only on claims whose signature has verified.
    pub fn check_claims(&self, raw: RawClaims, now: i64) -> Result<Claims, VerifyError> {
        let exp = raw.exp.ok_or(VerifyError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(self.leeway) {
            return Err(VerifyError::Expired);
        }
        if let Some(nbf) = raw.nbf
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(VerifyError::NotYetValid);
        }
        if let Some(iat) = raw.iat
            && iat > now.saturating_add(self.leeway)
        {
            return Err(VerifyError::IssuedInFuture);
        }
        let iss = raw.iss.ok_or(VerifyError::MissingClaim("iss"))?;
        if iss != self.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        let aud = raw.aud.ok_or(VerifyError::MissingClaim("aud"))?;
        let accepted = match &self.audiences {
            Audiences::Listed(listed) => listed.iter().any(|a| aud.contains(a)),
            Audiences::Any => aud.iter().any(|a| !a.is_empty()),
        };
        if !accepted {
            return Err(VerifyError::WrongAudience);
        }
        for claim in &self.required {
            let present = match claim {
                RequiredClaim::Sub => raw.sub.is_some(),
                RequiredClaim::Iat => raw.iat.is_some(),
                RequiredClaim::Nbf => raw.nbf.is_some(),
                RequiredClaim::Jti => raw.jti.is_some(),
                RequiredClaim::ClientId => raw.client_id.is_some(),
            };
            if !present {
                return Err(VerifyError::MissingClaim(claim.name()));
            }
        }
        Ok(Claims {
            iss,
            sub: raw.sub.unwrap_or_default(),
            aud,
            exp,
            nbf: raw.nbf,
            iat: raw.iat,
            jti: raw.jti,
            client_id: raw.client_id,
            scope: raw.scope.unwrap_or_default(),
            roles_claim: raw.roles.is_some(),
            roles: raw.roles.unwrap_or_default(),
        })
    }
}

/// RFC 7515 section 4.1.9: media types compare case-insensitively and the
/// `application/` prefix may be omitted.
fn typ_matches(typ: &str, required: &str) -> bool {
    const PREFIX: &str = "application/";
    if typ.eq_ignore_ascii_case(required) {
        return true;
    }
    let (t, r) = (typ.as_bytes(), required.as_bytes());
    let strip = |s: &[u8]| -> Option<usize> {
        (s.len() > PREFIX.len() && s[..PREFIX.len()].eq_ignore_ascii_case(PREFIX.as_bytes()))
            .then_some(PREFIX.len())
    };
    let t = strip(t).map_or(t, |n| &t[n..]);
    let r = strip(r).map_or(r, |n| &r[n..]);
    t.eq_ignore_ascii_case(r)
}

#[cfg(test)]
mod tests {
    use super::typ_matches;

    #[test]
    fn typ_is_case_insensitive_with_optional_prefix() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("AT+JWT", "at+jwt"));
        assert!(typ_matches("application/at+jwt", "at+jwt"));
        assert!(typ_matches("Application/AT+JWT", "at+jwt"));
        assert!(!typ_matches("JWT", "at+jwt"));
        assert!(!typ_matches("application/jwt", "at+jwt"));
        assert!(!typ_matches("xat+jwt", "at+jwt"));
    }
}
