//! Errors: [`VerifyError`] for one token, [`BuildError`] for configuration.
//!
//! No variant carries token content, key material or a remote error chain,
//! so `Display` is safe to log; [`VerifyError::description`] is the fixed
//! text meant for an `error_description` on the wire.

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("token is larger than the configured cap")]
    TokenTooLarge,
    #[error("token is not a compact JWS with three segments")]
    Malformed,
    #[error("token segment is not canonical unpadded base64url")]
    BadBase64,
    #[error("JOSE header is not a valid JSON object of the expected shape")]
    InvalidHeader,
    #[error("claim set is not a valid JSON object of the expected shape")]
    InvalidClaims,
    #[error("a JSON member appears twice")]
    DuplicateMember,
    #[error("algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("header carries `crit`")]
    CritHeader,
    #[error("header carries a key or key reference (jku, x5u, jwk or x5c)")]
    ForbiddenHeader,
    #[error("header has no `kid`")]
    MissingKid,
    #[error("no key with this `kid`")]
    UnknownKid,
    #[error("issuer is not trusted")]
    UnknownIssuer,
    #[error("signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("`iss` does not match")]
    WrongIssuer,
    #[error("`aud` does not contain an accepted audience")]
    WrongAudience,
    #[error("`typ` is missing or not the required type")]
    WrongType,
    #[error("required claim `{0}` is missing")]
    MissingClaim(&'static str),
    #[error("issuer keys are unavailable")]
    KeysUnavailable,
}

impl VerifyError {
    /// True when the token could not be judged because no usable key set is
    /// available (an HTTP service answers 503, not 401).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, VerifyError::KeysUnavailable)
    }

    /// Fixed text for an RFC 6750 `error_description`; never token content.
    pub fn description(&self) -> &'static str {
        match self {
            VerifyError::TokenTooLarge => "token too large",
            VerifyError::Malformed => "malformed token",
            VerifyError::BadBase64 => "malformed token encoding",
            VerifyError::InvalidHeader => "invalid token header",
            VerifyError::InvalidClaims => "invalid token claims",
            VerifyError::DuplicateMember => "duplicate member in token",
            VerifyError::AlgorithmNotAllowed => "algorithm not allowed",
            VerifyError::CritHeader => "unsupported critical header",
            VerifyError::ForbiddenHeader => "embedded or referenced keys are not accepted",
            VerifyError::MissingKid => "token has no key id",
            VerifyError::UnknownKid => "unknown signing key",
            VerifyError::UnknownIssuer => "untrusted issuer",
            VerifyError::BadSignature => "invalid signature",
            VerifyError::Expired => "token expired",
            VerifyError::NotYetValid => "token not yet valid",
            VerifyError::IssuedInFuture => "token issued in the future",
            VerifyError::WrongIssuer => "wrong issuer",
            VerifyError::WrongAudience => "wrong audience",
            VerifyError::WrongType => "wrong token type",
            VerifyError::MissingClaim(_) => "required claim missing",
            VerifyError::KeysUnavailable => "signing keys temporarily unavailable",
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("no issuer configured")]
    NoIssuers,
    #[error("issuer {0} is configured twice")]
    DuplicateIssuer(String),
    #[error("issuer {0} has no accepted audience")]
    NoAudience(String),
    #[error("issuer {0} allows no algorithm")]
    NoAlgorithm(String),
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("{0} is plain http on a non-loopback host; use https or allow_insecure_http")]
    InsecureUrl(String),
    #[error("invalid setting: {0}")]
    InvalidSetting(&'static str),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}
