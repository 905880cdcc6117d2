//! HTTP: one shared client for discovery and JWKS documents, with timeouts,
//! no redirects, a body cap enforced while streaming, and conditional
//! requests.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::config::HttpSettings;
use crate::error::BuildError;

/// Why a fetch failed. Logged, never shown to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Transport(String),
    #[error("request timed out")]
    Timeout,
    #[error("redirect ({0}) not followed")]
    Redirect(u16),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("response body exceeds {0} bytes")]
    TooLarge(usize),
    #[error("invalid document: {0}")]
    Invalid(String),
    #[error("discovery `issuer` does not match the configured issuer")]
    IssuerMismatch,
    #[error("URL not allowed: {0}")]
    Url(String),
    #[error("in back-off after a failed fetch")]
    Backoff,
}

/// A document fetched with [`Http::get`].
#[derive(Debug)]
pub(crate) enum Fetched {
    Modified {
        body: Vec<u8>,
        etag: Option<String>,
        max_age: Option<Duration>,
    },
    NotModified {
        max_age: Option<Duration>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    settings: HttpSettings,
}

impl Http {
    pub fn new(settings: HttpSettings) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Fetches are minutes apart; idle connections would only tie the
            // client to whichever runtime opened them.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("jwks-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError::Http(e.to_string()))?;
        Ok(Http { client, settings })
    }

    /// GET `url`, with `If-None-Match` when an ETag is known.
    pub async fn get(&self, url: &str, etag: Option<&str>) -> Result<Fetched, FetchError> {
        let mut req = self
            .client
            .get(url)
            .header(header::ACCEPT, "application/json");
        if let Some(etag) = etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let max_age = cache_max_age(resp.headers());
        if status == StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(Fetched::NotModified { max_age });
        }
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        if status != StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 256)
            .map(str::to_owned);
        let cap = self.settings.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(FetchError::TooLarge(cap));
        }
        // Content-Length is only a hint: the cap is enforced on what arrives.
        let mut body =
            Vec::with_capacity(resp.content_length().unwrap_or(8192).min(cap as u64) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > cap {
                return Err(FetchError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Modified {
            body,
            etag,
            max_age,
        })
    }

    /// Finds the JWKS URL of `issuer` through OpenID Connect discovery,
    /// falling back to RFC 8414 when the first document is not served. The
    /// document's `issuer` must equal `issuer` exactly and its `jwks_uri`
    /// obey the same URL rules as configured URLs.
    pub async fn discover(&self, issuer: &str) -> Result<String, FetchError> {
        let candidates = discovery_urls(issuer).map_err(|e| FetchError::Url(e.to_string()))?;
        let mut last = FetchError::Status(404);
        for url in candidates {
            match self.get(url.as_str(), None).await {
                Ok(Fetched::Modified { body, .. }) => return self.read_discovery(issuer, &body),
                Ok(Fetched::NotModified { .. }) => last = FetchError::Status(304),
                // Try the next well-known location only when this one is not
                // served; a transport failure would just repeat.
                Err(e @ (FetchError::Status(_) | FetchError::Redirect(_))) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    fn read_discovery(&self, issuer: &str, body: &[u8]) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let doc: Discovery =
            serde_json::from_slice(body).map_err(|e| FetchError::Invalid(e.to_string()))?;
        if doc.issuer != issuer {
            return Err(FetchError::IssuerMismatch);
        }
        check_url(&doc.jwks_uri, self.settings.allow_insecure_http)
            .map_err(|e| FetchError::Url(e.to_string()))?;
        Ok(doc.jwks_uri)
    }
}

fn transport(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        // reqwest's Display names the URL but no body; it goes to the log.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        FetchError::Transport(text)
    }
}

/// `max-age` from `Cache-Control` (minus `Age`); `no-store`/`no-cache` mean
/// zero (the caller clamps to its minimum).
fn cache_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok())
            {
                max_age = Some(secs);
            }
        }
    }
    let age = headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    max_age.map(|m| Duration::from_secs(m.saturating_sub(age)))
}

/// The two well-known discovery locations for `issuer`.
fn discovery_urls(issuer: &str) -> Result<[Url; 2], BuildError> {
    let invalid = |reason| BuildError::InvalidUrl {
        url: issuer.to_owned(),
        reason,
    };
    let base = Url::parse(issuer).map_err(|_| invalid("not a URL"))?;
    // OpenID Connect Discovery 1.0 section 4: appended to the issuer.
    let oidc = Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
    .map_err(|_| invalid("not a URL"))?;
    // RFC 8414 section 3: inserted between the host and the issuer's path.
    let path = base.path().trim_end_matches('/');
    let mut oauth = base.clone();
    oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    oauth.set_query(None);
    Ok([oidc, oauth])
}

/// HTTPS, or plain HTTP to a loopback host, or any HTTP when allowed.
pub(crate) fn check_url(url: &str, allow_insecure_http: bool) -> Result<Url, BuildError> {
    let invalid = |reason| BuildError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = Url::parse(url).map_err(|_| invalid("not a URL"))?;
    if parsed.fragment().is_some() {
        return Err(invalid("has a fragment"));
    }
    let host = parsed.host_str().ok_or_else(|| invalid("has no host"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_insecure_http || is_loopback(host) => Ok(parsed),
        "http" => Err(BuildError::InsecureUrl(url.to_owned())),
        _ => Err(invalid("scheme must be https or http")),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            bare.eq_ignore_ascii_case("localhost")
                || bare.to_ascii_lowercase().ends_with(".localhost")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn url_rules() {
        assert!(check_url("https://issuer.example", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("http://[::1]:8080/jwks", false).is_ok());
        assert!(check_url("http://localhost/jwks", false).is_ok());
        assert!(matches!(
            check_url("http://issuer:8080", false),
            Err(BuildError::InsecureUrl(_))
        ));
        assert!(check_url("http://issuer:8080", true).is_ok());
        assert!(check_url("ftp://issuer", true).is_err());
        assert!(check_url("not a url", true).is_err());
    }

    #[test]
    fn discovery_locations() {
        let [oidc, oauth] = discovery_urls("https://id.example/tenant/").unwrap_or_else(|_| {
            panic!("valid");
        });
        assert_eq!(
            oidc.as_str(),
            "https://id.example/tenant/.well-known/openid-configuration"
        );
        assert_eq!(
            oauth.as_str(),
            "https://id.example/.well-known/oauth-authorization-server/tenant"
        );
    }

    #[test]
    fn max_age_parsing() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300, must-revalidate"),
        );
        assert_eq!(cache_max_age(&h), Some(Duration::from_secs(300)));
        h.insert(header::AGE, HeaderValue::from_static("100"));
        assert_eq!(cache_max_age(&h), Some(Duration::from_secs(200)));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        assert_eq!(cache_max_age(&h), Some(Duration::ZERO));
        h.remove(header::CACHE_CONTROL);
        assert_eq!(cache_max_age(&h), None);
    }
}
