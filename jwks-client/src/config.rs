//! Configuration: what to trust per issuer ([`IssuerConfig`]), how long to
//! keep keys ([`CacheSettings`]) and how to fetch them ([`HttpSettings`]).

use std::time::Duration;

use shared::claims::ACCESS_TOKEN_TYP;

pub use crate::algorithm::Algorithm;
use crate::local::LocalKeys;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway [`crate::VerifierBuilder::build`] accepts.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);
/// Default cap on the size of a compact token, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

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
/// Defaults: keys found through discovery, algorithms `[RS256]`, leeway 30 s
/// (at most 60 s), `typ` `at+jwt`, required claims `exp` and `sub` (plus
/// `iss` and `aud`, which are always checked). The accepted audiences must
/// be configured: [`IssuerConfig::audiences`], or explicitly any with
/// [`IssuerConfig::any_audience`].
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    pub(crate) issuer: String,
    pub(crate) keys: KeysFrom,
    pub(crate) audiences: Audiences,
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
            keys: KeysFrom::Discovery,
            audiences: Audiences::Listed(Vec::new()),
            algorithms: vec![Algorithm::RS256],
            leeway: DEFAULT_LEEWAY,
            required_typ: Some(ACCESS_TOKEN_TYP.to_owned()),
            required_claims: vec![RequiredClaim::Sub],
        }
    }

    /// Fetch keys from this URL and skip discovery (replaces an earlier
    /// [`IssuerConfig::local_keys`]).
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.keys = KeysFrom::Url(url.into());
        self
    }

    /// Take keys from `keys`, a set the caller holds in memory and replaces
    /// itself ([`LocalKeys::replace`]), instead of fetching them: no
    /// discovery, no HTTP request, and no URL rules for this issuer
    /// (replaces an earlier [`IssuerConfig::jwks_url`]). Everything else
    /// about a token is checked as for fetched keys.
    pub fn local_keys(mut self, keys: LocalKeys) -> Self {
        self.keys = KeysFrom::Local(keys);
        self
    }

    /// Accepted audiences (required unless [`IssuerConfig::any_audience`]):
    /// a token's `aud` must contain one.
    pub fn audiences<I, S>(mut self, auds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = Audiences::Listed(auds.into_iter().map(Into::into).collect());
        self
    }

    /// Accept a token whatever audience it names (replaces
    /// [`IssuerConfig::audiences`]). Never the default: only for a party
    /// that judges tokens on behalf of every audience, such as an
    /// authorization server answering RFC 7662 introspection for its own
    /// tokens. `aud` must still be present, a string or an array of
    /// strings, and name at least one non-empty audience.
    pub fn any_audience(mut self) -> Self {
        self.audiences = Audiences::Any;
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

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub(crate) enum KeysFrom {
    /// The `jwks_uri` of the issuer's discovery document.
    Discovery,
    /// A configured JWKS URL.
    Url(String),
    /// A set its owner keeps in memory.
    Local(LocalKeys),
}

/// Which audiences an issuer's tokens may name.
#[derive(Debug, Clone)]
pub(crate) enum Audiences {
    /// `aud` must contain one of these (none configured is a build error).
    Listed(Vec<String>),
    /// Any `aud` naming at least one non-empty audience.
    Any,
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
