//! Configuration: what to trust per issuer ([`IssuerConfig`]), how long to
//! keep keys ([`CacheSettings`]) and how to fetch them ([`HttpSettings`]).

use std::fmt;
use std::time::Duration;

use aws_lc_rs::signature::{self, RsaParameters};
use shared::claims::ACCESS_TOKEN_TYP;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway [`crate::VerifierBuilder::build`] accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);
/// Default cap on the size of a compact token, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A JWS signature algorithm this crate can verify. Only RSA algorithms are
/// supported; the allow-list of each issuer picks from these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default and the issuer's choice).
    RS256,
    RS384,
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1.
    PS256,
    PS384,
    PS512,
}

impl Algorithm {
    /// Every algorithm this crate knows.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ];

    /// The JOSE name (`RS256`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
        }
    }

    /// Parses a JOSE name exactly (case-sensitive, as RFC 7515 requires).
    /// `none` and HMAC names are not algorithms here.
    pub fn from_name(name: &str) -> Option<Self> {
        Algorithm::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub(crate) fn params(self) -> &'static RsaParameters {
        match self {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A claim that a token must carry beyond the always-required `iss`, `exp`
/// and `aud`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequiredClaim {
    Sub,
    Iat,
    Nbf,
    Jti,
    ClientId,
}

impl RequiredClaim {
    /// The claims RFC 9068 section 2.2 makes mandatory for access tokens
    /// (besides `iss`, `exp` and `aud`).
    pub const RFC_9068: &'static [RequiredClaim] = &[
        RequiredClaim::Sub,
        RequiredClaim::Iat,
        RequiredClaim::Jti,
        RequiredClaim::ClientId,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RequiredClaim::Sub => "sub",
            RequiredClaim::Iat => "iat",
            RequiredClaim::Nbf => "nbf",
            RequiredClaim::Jti => "jti",
            RequiredClaim::ClientId => "client_id",
        }
    }
}

/// What one trusted issuer may sign, and where its keys are.
///
/// Defaults: algorithms `[RS256]`, leeway 30 s (at most 60 s), `typ`
/// `at+jwt`, required claims `exp` and `sub` (plus `iss` and `aud`, which are
/// always checked). At least one audience must be configured.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    pub(crate) issuer: String,
    pub(crate) jwks_url: Option<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway: Duration,
    pub(crate) required_typ: Option<String>,
    pub(crate) required_claims: Vec<RequiredClaim>,
}

impl IssuerConfig {
    /// Trust `issuer_url`: tokens must carry exactly this `iss`. Keys are
    /// found through discovery (`{issuer}/.well-known/openid-configuration`,
    /// falling back to RFC 8414 `/.well-known/oauth-authorization-server`),
    /// whose `issuer` member must equal `issuer_url` exactly.
    pub fn new(issuer_url: impl Into<String>) -> Self {
        IssuerConfig {
            issuer: issuer_url.into(),
            jwks_url: None,
            audiences: Vec::new(),
            algorithms: vec![Algorithm::RS256],
            leeway: DEFAULT_LEEWAY,
            required_typ: Some(ACCESS_TOKEN_TYP.to_owned()),
            required_claims: vec![RequiredClaim::Sub],
        }
    }

    /// Fetch keys from this URL and skip discovery.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Accepted audiences (required): a token's `aud` must contain one.
    pub fn audiences<I, S>(mut self, auds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = auds.into_iter().map(Into::into).collect();
        self
    }

    /// The algorithm allow-list (default `[RS256]`). A token's `alg` must be
    /// in it, and equal the key's `alg` when the key names one.
    pub fn algorithms(mut self, algs: &[Algorithm]) -> Self {
        self.algorithms = algs.to_vec();
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat` (default 30 s; the
    /// builder rejects more than 60 s).
    pub fn leeway(mut self, d: Duration) -> Self {
        self.leeway = d;
        self
    }

    /// The JOSE `typ` every token must carry (default `Some("at+jwt")`),
    /// compared case-insensitively with an optional `application/` prefix
    /// (RFC 7515 section 4.1.9). `None` skips the check.
    pub fn required_typ(mut self, typ: Option<&str>) -> Self {
        self.required_typ = typ.map(str::to_owned);
        self
    }

    /// Claims that must be present besides `iss`, `exp` and `aud`
    /// (default `[Sub]`; see [`RequiredClaim::RFC_9068`]).
    pub fn required_claims(mut self, claims: &[RequiredClaim]) -> Self {
        self.required_claims = claims.to_vec();
        self
    }

    /// The issuer identifier this configuration trusts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// How long key sets live and how refreshes are paced.
///
/// A set's lifetime is the response's `Cache-Control: max-age` clamped to
/// `[min_ttl, max_ttl]`, or `default_ttl` without one. It is refreshed in
/// the background at a random point in the last `refresh_ahead` fraction of
/// that lifetime (between `1 - refresh_ahead` and `1 - refresh_ahead / 2`),
/// so instances spread their fetches. A set whose issuer is unreachable keeps
/// verifying for `max_stale` past its lifetime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheSettings {
    pub min_ttl: Duration,
    pub max_ttl: Duration,
    pub default_ttl: Duration,
    /// At most one forced refresh per issuer for unknown `kid`s in this period.
    pub unknown_kid_cooldown: Duration,
    /// How long a set past its lifetime keeps verifying while fetches fail.
    pub max_stale: Duration,
    /// Fraction of the lifetime (0.0 to 1.0) before expiry in which the
    /// background refresh happens.
    pub refresh_ahead: f64,
    /// After a failed fetch, no new fetch for this issuer for this long
    /// (requests fail fast or are served from the stale set meanwhile).
    pub error_backoff: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            min_ttl: Duration::from_secs(5 * 60),
            max_ttl: Duration::from_secs(24 * 60 * 60),
            default_ttl: Duration::from_secs(10 * 60),
            unknown_kid_cooldown: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 60 * 60),
            refresh_ahead: 0.2,
            error_backoff: Duration::from_secs(2),
        }
    }
}

/// The one HTTP client used for discovery and JWKS fetches.
///
/// Redirects are never followed. Plain `http://` is refused unless the host
/// is loopback (`127.0.0.0/8`, `::1`, `localhost`) or `allow_insecure_http`
/// is set for a private network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Total time for one request, body included.
    pub timeout: Duration,
    /// Response bodies larger than this are refused (enforced while reading).
    pub max_body_bytes: usize,
    pub allow_insecure_http: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_body_bytes: 256 * 1024,
            allow_insecure_http: false,
        }
    }
}
