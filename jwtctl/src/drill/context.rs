//! The drill's shared state: the arguments, the HTTP client, the recorded
//! requests, the current load tokens, and the issuer calls (logins,
//! refreshes, admin API) that every part of the drill makes through it.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use shared::admin::ADMIN_SCOPE;

use super::args::Args;
use crate::http::{TokenError, describe, token_kid, token_request};

/// What a recorded request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A resource call.
    Call,
    /// A token request: a new login.
    Login,
    /// A token request: the refresh grant.
    Refresh,
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the start, when the request was sent.
    pub t: f64,
    /// Resource index (calls) or audience index (token requests).
    pub idx: usize,
    pub kind: Kind,
    /// HTTP status, 0 for a transport error.
    pub status: u16,
    pub latency_ms: f64,
    /// `kid` of the token used (calls) or obtained/renewed (token requests).
    pub kid: Option<String>,
    /// Seconds of validity the token had left when sent.
    pub exp: i64,
}

/// A load token as the drill holds it.
#[derive(Debug, Clone, Default)]
pub struct TokenState {
    pub access: String,
    pub refresh: Option<String>,
    pub kid: Option<String>,
    pub exp: i64,
}

/// Everything the load, the token maintainer and the operations share.
pub struct Ctx {
    pub args: Args,
    pub http: reqwest::Client,
    /// The drill's time zero.
    pub start: Instant,
    /// Set when `--duration` is over: the load and the maintainer stop.
    pub stop: AtomicBool,
    /// Every request, in the order recorded.
    pub samples: Mutex<Vec<Sample>>,
    /// The current load token per service.
    pub tokens: Vec<Mutex<TokenState>>,
    /// Per service: a call was refused, renew the token now.
    pub renew: Vec<AtomicBool>,
    /// Calls not sent because the concurrency cap was reached.
    pub skipped: AtomicU64,
    pub client_secret: String,
    pub password: Option<String>,
    pub admin_secret: String,
    /// Operations finished, for the progress line.
    pub ops_done: AtomicU64,
}

/// The part of an error answer the drill shows.
#[derive(serde::Deserialize)]
struct ErrorBody {
    error_description: Option<String>,
}

/// Locks, ignoring poisoning (a panicked task leaves consistent data here).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ctx {
    pub fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn record(&self, s: Sample) {
        lock(&self.samples).push(s);
    }

    pub fn audience(&self, idx: usize) -> &str {
        &self.args.resources[idx].audience
    }

    /// Gets a new load token for service `idx` (password or client
    /// credentials grant), recording the request.
    pub async fn login(&self, idx: usize) -> Result<TokenState, TokenError> {
        let aud = self.audience(idx).to_owned();
        let mut form: Vec<(&str, &str)> = Vec::new();
        match (&self.args.login.username, &self.password) {
            (Some(user), Some(pw)) => {
                form.extend([
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", pw),
                ]);
            }
            _ => form.push(("grant_type", "client_credentials")),
        }
        form.push(("audience", &aud));
        if let Some(s) = &self.args.login.scope {
            form.push(("scope", s));
        }
        self.sampled_token_request(idx, Kind::Login, &form, None)
            .await
    }

    /// Renews the load token of service `idx` with its refresh token,
    /// recording the request.
    pub async fn refresh(
        &self,
        idx: usize,
        rt: &str,
        old_kid: Option<String>,
    ) -> Result<TokenState, TokenError> {
        let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
        self.sampled_token_request(idx, Kind::Refresh, &form, old_kid)
            .await
    }

    /// One token-endpoint request for service `idx`, recorded as a sample.
    async fn sampled_token_request(
        &self,
        idx: usize,
        kind: Kind,
        form: &[(&str, &str)],
        old_kid: Option<String>,
    ) -> Result<TokenState, TokenError> {
        let t = self.now();
        let sent = Instant::now();
        let res = token_request(
            &self.http,
            &self.args.issuer,
            &self.args.login.client_id,
            Some(&self.client_secret),
            form,
        )
        .await;
        self.token_sample(t, sent, idx, kind, &res, old_kid);
        res.map(state_of)
    }

    fn token_sample(
        &self,
        t: f64,
        sent: Instant,
        idx: usize,
        kind: Kind,
        res: &Result<shared::oauth::TokenResponse, TokenError>,
        old_kid: Option<String>,
    ) {
        let (status, kid) = match res {
            Ok(r) => (200, token_kid(&r.access_token)),
            Err(TokenError::Transport(_)) => (0, old_kid),
            Err(TokenError::Refused { status, .. }) => (*status, old_kid),
        };
        self.record(Sample {
            t,
            idx,
            kind,
            status,
            latency_ms: sent.elapsed().as_secs_f64() * 1e3,
            kid,
            exp: i64::MAX,
        });
    }

    /// A fresh admin token (scope `keys:admin`) for every admin call.
    pub async fn admin_token(&self) -> anyhow::Result<String> {
        let audience = match &self.args.admin_audience {
            Some(audience) => audience.clone(),
            None => self.args.issuer.trim_end_matches('/').to_owned(),
        };
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", ADMIN_SCOPE),
            ("audience", audience.as_str()),
        ];
        token_request(
            &self.http,
            &self.args.issuer,
            &self.args.admin_client,
            Some(&self.admin_secret),
            &form,
        )
        .await
        .map(|t| t.access_token)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot get an admin token for client {}: {e}",
                self.args.admin_client
            )
        })
    }

    /// Calls the admin API and decodes its JSON answer.
    pub async fn admin<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> anyhow::Result<T> {
        let token = self.admin_token().await?;
        let url = format!("{}{path}", self.args.issuer.trim_end_matches('/'));
        let res = self
            .http
            .request(method, &url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(describe(&e, &url)))?;
        let status = res.status();
        let body = res
            .bytes()
            .await
            .map_err(|e| anyhow::anyhow!(describe(&e, &url)))?;
        if !status.is_success() {
            let description = serde_json::from_slice::<ErrorBody>(&body)
                .ok()
                .and_then(|b| b.error_description);
            anyhow::bail!(
                "{url} answered {}: {}",
                status.as_u16(),
                description.as_deref().unwrap_or("no description")
            );
        }
        serde_json::from_slice(&body).map_err(|_| {
            anyhow::anyhow!("{url} answered something that is not the admin API's JSON")
        })
    }
}

fn state_of(t: shared::oauth::TokenResponse) -> TokenState {
    let kid = token_kid(&t.access_token);
    TokenState {
        exp: shared::now_unix() + t.expires_in,
        access: t.access_token,
        refresh: t.refresh_token,
        kid,
    }
}
