//! `jwtctl drill`: proves under load that key rotations refuse no valid
//! request, and measures how fast an emergency revocation takes effect on
//! every resource service.
//!
//! Three things run at once until `--duration` is over: a load generator
//! (`--rate` resource calls per second, round-robin over the services, each
//! with a token for the service's audience), a token maintainer (renews every
//! token each `--refresh-every` through the refresh grant, or logs in again),
//! and the operations (`--op`), carried out one after the other through the
//! admin API. Every request is recorded and classified afterwards, when the
//! revocations are known.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::admin::{ADMIN_SCOPE, KeyList, RevokeResponse, RotateResponse};

use crate::http::{TokenError, client, describe, secret_from_env, token_kid, token_request};
use crate::{ResourceSpec, parse_duration, parse_resource, usage};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Operations (--op, run in the order given; `@T` = not before T after the start):
  rotate[@T]          planned rotation now (POST /admin/keys/rotate)
  revoke-active[@T]   emergency revocation of the signing key; measures convergence
  wait-scheduled[@T]  wait until the pending key activates on the issuer's own schedule

Example (native processes; ISSUER_JWKS_MAX_AGE=1 ISSUER_KEY_ROTATION_PERIOD short):
  export JWTCTL_ADMIN_SECRET=... JWTCTL_CLIENT_SECRET=... JWTCTL_PASSWORD=...
  jwtctl drill --issuer http://127.0.0.1:8080 \\
      --resource orders=http://127.0.0.1:8081 --resource billing=http://127.0.0.1:8082 \\
      --admin-client ops --client-id cli --username alice --duration 30s --rate 100 \\
      --op wait-scheduled --op rotate@12s --op revoke-active@20s --json drill.json --svg drill.svg

Exit codes: 0 no valid request refused; 1 a valid request was refused (or an operation failed); 2 usage."
)]
pub struct Args {
    /// Issuer base URL.
    #[arg(long)]
    pub issuer: String,
    /// A resource service as AUDIENCE=URL (repeatable).
    #[arg(long = "resource", value_parser = parse_resource, required = true)]
    pub resources: Vec<ResourceSpec>,
    /// Path called on every resource service.
    #[arg(long, default_value = "/v1/me")]
    pub path: String,
    /// Client with scope keys:admin and the issuer URL as audience.
    #[arg(long)]
    pub admin_client: String,
    /// Environment variable holding the admin client's secret.
    #[arg(long, default_value = "JWTCTL_ADMIN_SECRET")]
    pub admin_secret_env: String,
    /// Audience of the admin token (the issuer's `ISSUER_ADMIN_AUDIENCE`;
    /// default: the --issuer URL). Set it when you reach the issuer under
    /// another name than its own, e.g. `http://issuer:8080` from the host
    /// of the compose stack.
    #[arg(long)]
    pub admin_audience: Option<String>,
    /// Client for the load.
    #[arg(long)]
    pub client_id: String,
    /// Environment variable holding the load client's secret.
    #[arg(long, default_value = "JWTCTL_CLIENT_SECRET")]
    pub client_secret_env: String,
    /// Use the password grant as this user (with refreshes); else client credentials.
    #[arg(long)]
    pub username: Option<String>,
    /// Environment variable holding the user's password.
    #[arg(long, default_value = "JWTCTL_PASSWORD")]
    pub password_env: String,
    /// Scope requested for the load tokens.
    #[arg(long)]
    pub scope: Option<String>,
    /// Total drill time.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub duration: Duration,
    /// Resource calls per second, over all services.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub rate: u32,
    /// How often each load token is renewed (refresh grant or new login).
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub refresh_every: Duration,
    /// Key operation (repeatable), see below.
    #[arg(long = "op", value_parser = parse_op)]
    pub ops: Vec<Op>,
    /// Upper bound for revocation convergence (default: the issuer's
    /// `caches_drop_within` + 1 s for the fetch and polling).
    #[arg(long, value_parser = parse_duration)]
    pub cache_bound: Option<Duration>,
    /// Length of the latency windows before/during/after each operation.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub window: Duration,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the SVG timeline here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Rotate,
    RevokeActive,
    WaitScheduled,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            OpKind::Rotate => "rotate",
            OpKind::RevokeActive => "revoke-active",
            OpKind::WaitScheduled => "wait-scheduled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Op {
    pub kind: OpKind,
    pub at: Option<Duration>,
}

pub fn parse_op(text: &str) -> Result<Op, String> {
    let (name, at) = match text.split_once('@') {
        Some((n, t)) => (n, Some(parse_duration(t)?)),
        None => (text, None),
    };
    let kind = match name {
        "rotate" => OpKind::Rotate,
        "revoke-active" => OpKind::RevokeActive,
        "wait-scheduled" => OpKind::WaitScheduled,
        _ => {
            return Err(format!(
                "unknown operation `{name}` (rotate, revoke-active, wait-scheduled; optionally @TIME)"
            ));
        }
    };
    Ok(Op { kind, at })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Call,
    Login,
    Refresh,
}

/// One recorded request.
#[derive(Debug, Clone)]
struct Sample {
    /// Seconds since the start, when the request was sent.
    t: f64,
    /// Resource index (calls) or audience index (token requests).
    idx: usize,
    kind: Kind,
    /// HTTP status, 0 for a transport error.
    status: u16,
    latency_ms: f64,
    /// `kid` of the token used (calls) or obtained/renewed (token requests).
    kid: Option<String>,
    /// Seconds of validity the token had left when sent.
    exp: i64,
}

#[derive(Debug, Clone, Default)]
struct TokenState {
    access: String,
    refresh: Option<String>,
    kid: Option<String>,
    exp: i64,
}

/// A key operation as it happened.
#[derive(Debug, Clone)]
struct Event {
    op: &'static str,
    start: f64,
    end: f64,
    ok: bool,
    detail: String,
    revoked_kid: Option<String>,
    /// Per service: seconds from the revocation answer until it refused.
    convergence: Vec<Option<f64>>,
    bound: Option<f64>,
}

struct Ctx {
    args: Args,
    http: reqwest::Client,
    start: Instant,
    stop: AtomicBool,
    samples: Mutex<Vec<Sample>>,
    tokens: Vec<Mutex<TokenState>>,
    renew: Vec<AtomicBool>,
    skipped: AtomicU64,
    client_secret: String,
    password: Option<String>,
    admin_secret: String,
    ops_done: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ctx {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn record(&self, s: Sample) {
        lock(&self.samples).push(s);
    }

    fn audience(&self, idx: usize) -> &str {
        &self.args.resources[idx].audience
    }

    async fn login(&self, idx: usize) -> Result<TokenState, TokenError> {
        let aud = self.audience(idx).to_owned();
        let mut form: Vec<(&str, &str)> = Vec::new();
        match (&self.args.username, &self.password) {
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
        if let Some(s) = &self.args.scope {
            form.push(("scope", s));
        }
        let t = self.now();
        let sent = Instant::now();
        let res = token_request(
            &self.http,
            &self.args.issuer,
            &self.args.client_id,
            Some(&self.client_secret),
            &form,
        )
        .await;
        self.token_sample(t, sent, idx, Kind::Login, &res, None);
        res.map(state_of)
    }

    async fn refresh(
        &self,
        idx: usize,
        rt: &str,
        old_kid: Option<String>,
    ) -> Result<TokenState, TokenError> {
        let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
        let t = self.now();
        let sent = Instant::now();
        let res = token_request(
            &self.http,
            &self.args.issuer,
            &self.args.client_id,
            Some(&self.client_secret),
            &form,
        )
        .await;
        self.token_sample(t, sent, idx, Kind::Refresh, &res, old_kid);
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

    async fn admin_token(&self) -> anyhow::Result<String> {
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

    async fn admin<T: serde::de::DeserializeOwned>(
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
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            anyhow::bail!(
                "{url} answered {}: {}",
                status.as_u16(),
                v["error_description"].as_str().unwrap_or("no description")
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

/// Renews every token each `refresh_every`, or at once when a call with it
/// was refused (at most every 250 ms per audience).
async fn maintain_tokens(ctx: Arc<Ctx>) {
    let n = ctx.tokens.len();
    let mut last = vec![Instant::now(); n];
    while !ctx.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (i, last) in last.iter_mut().enumerate() {
            let urgent = ctx.renew[i].load(Ordering::Relaxed)
                && last.elapsed() >= Duration::from_millis(250);
            if !(urgent || last.elapsed() >= ctx.args.refresh_every) {
                continue;
            }
            ctx.renew[i].store(false, Ordering::Relaxed);
            *last = Instant::now();
            let current = lock(&ctx.tokens[i]).clone();
            let renewed = match &current.refresh {
                Some(rt) => match ctx.refresh(i, rt, current.kid.clone()).await {
                    Ok(t) => Ok(t),
                    // A revoked family (emergency revocation) or expired session: log in again.
                    Err(_) => ctx.login(i).await,
                },
                None => ctx.login(i).await,
            };
            if let Ok(t) = renewed {
                *lock(&ctx.tokens[i]) = t;
            }
        }
    }
}

async fn one_call(ctx: Arc<Ctx>, idx: usize, permit: tokio::sync::OwnedSemaphorePermit) {
    let token = lock(&ctx.tokens[idx]).clone();
    let url = format!("{}{}", ctx.args.resources[idx].url, ctx.args.path);
    let t = ctx.now();
    let sent = Instant::now();
    let status = match ctx.http.get(&url).bearer_auth(&token.access).send().await {
        Ok(res) => {
            let s = res.status().as_u16();
            let _ = res.bytes().await;
            s
        }
        Err(_) => 0,
    };
    if status == 401 {
        ctx.renew[idx].store(true, Ordering::Relaxed);
    }
    ctx.record(Sample {
        t,
        idx,
        kind: Kind::Call,
        status,
        latency_ms: sent.elapsed().as_secs_f64() * 1e3,
        kid: token.kid,
        exp: token.exp - shared::now_unix(),
    });
    drop(permit);
}

async fn generate_load(ctx: Arc<Ctx>) {
    let sem = Arc::new(tokio::sync::Semaphore::new(128));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(ctx.args.rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n = 0usize;
    while !ctx.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let idx = n % ctx.args.resources.len();
        n += 1;
        match sem.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(one_call(ctx.clone(), idx, permit));
            }
            Err(_) => {
                ctx.skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    // Let the calls in flight finish (bounded by the client timeout).
    let _ = tokio::time::timeout(Duration::from_secs(11), sem.acquire_many(128)).await;
}

async fn progress(ctx: Arc<Ctx>, total_ops: usize) {
    let total = ctx.args.duration.as_secs_f64();
    while !ctx.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (calls, refused) = {
            let s = lock(&ctx.samples);
            let calls = s.iter().filter(|x| x.kind == Kind::Call).count();
            (
                calls,
                s.iter()
                    .filter(|x| x.kind == Kind::Call && x.status == 401)
                    .count(),
            )
        };
        eprintln!(
            "[{:5.1}s/{total:.0}s] calls {calls}, 401s {refused}, operations {}/{total_ops}",
            ctx.now(),
            ctx.ops_done.load(Ordering::Relaxed)
        );
    }
}

async fn sleep_until(ctx: &Ctx, at: f64) {
    let wait = at - ctx.now();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

async fn run_op(ctx: &Ctx, op: &Op) -> Event {
    let end = ctx.args.duration.as_secs_f64();
    if let Some(at) = op.at {
        sleep_until(ctx, at.as_secs_f64().min(end)).await;
    }
    let start = ctx.now();
    let mut ev = Event {
        op: op.kind.name(),
        start,
        end: start,
        ok: false,
        detail: String::new(),
        revoked_kid: None,
        convergence: vec![],
        bound: None,
    };
    let result = match op.kind {
        OpKind::Rotate => rotate(ctx).await,
        OpKind::WaitScheduled => wait_scheduled(ctx, &mut ev).await,
        OpKind::RevokeActive => revoke_active(ctx, &mut ev).await,
    };
    ev.end = ctx.now();
    match result {
        Ok(detail) => {
            ev.ok = true;
            ev.detail = detail;
        }
        Err(e) => ev.detail = format!("FAILED: {e:#}"),
    }
    eprintln!("[{:5.1}s] {} {}", ev.end, ev.op, ev.detail);
    ev
}

async fn rotate(ctx: &Ctx) -> anyhow::Result<String> {
    let r: RotateResponse = ctx
        .admin(reqwest::Method::POST, "/admin/keys/rotate")
        .await?;
    let now = shared::now_unix();
    Ok(format!(
        "key {} signs {} (retiring {}), new pending key {}",
        r.active_kid,
        if r.activate_at <= now {
            "now".to_owned()
        } else {
            format!("in {} s", r.activate_at - now)
        },
        r.retiring_kid.as_deref().unwrap_or("-"),
        r.pending_kid
    ))
}

async fn wait_scheduled(ctx: &Ctx, ev: &mut Event) -> anyhow::Result<String> {
    let list: KeyList = ctx.admin(reqwest::Method::GET, "/admin/keys").await?;
    let pending = list
        .keys
        .iter()
        .filter(|k| k.state == "pending")
        .min_by_key(|k| k.activate_at)
        .ok_or_else(|| anyhow::anyhow!("the issuer has no pending key"))?
        .clone();
    let now_unix = shared::now_unix();
    let remaining = ctx.args.duration.as_secs_f64() - ctx.now();
    let due_in = (pending.activate_at - now_unix) as f64;
    if due_in > remaining {
        anyhow::bail!(
            "pending key {} activates in {due_in:.0} s, after the drill ends; shorten ISSUER_KEY_ROTATION_PERIOD or lengthen --duration",
            pending.kid
        );
    }
    // Poll until the issuer reports the key active (bounded by the drill end + 10 s).
    let deadline = Instant::now() + Duration::from_secs_f64(remaining.max(0.0) + 10.0);
    loop {
        let list: KeyList = ctx.admin(reqwest::Method::GET, "/admin/keys").await?;
        if list.active_kid.as_deref() == Some(pending.kid.as_str()) {
            ev.start = (ctx.now() - (shared::now_unix() - pending.activate_at) as f64).max(0.0);
            return Ok(format!(
                "pending key {} activated on schedule at {} (observed {:.1} s into the drill)",
                pending.kid,
                crate::time::utc(pending.activate_at),
                ctx.now()
            ));
        }
        if Instant::now() > deadline {
            anyhow::bail!("key {} did not activate by its scheduled time", pending.kid);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn revoke_active(ctx: &Ctx, ev: &mut Event) -> anyhow::Result<String> {
    let list: KeyList = ctx.admin(reqwest::Method::GET, "/admin/keys").await?;
    let kid = list
        .active_kid
        .ok_or_else(|| anyhow::anyhow!("the issuer reports no active key"))?;
    // A probe token signed by the key about to be revoked, per service.
    let mut probes = Vec::new();
    for i in 0..ctx.args.resources.len() {
        let mut t = lock(&ctx.tokens[i]).clone();
        if t.kid.as_deref() != Some(kid.as_str()) {
            t = ctx
                .login(i)
                .await
                .map_err(|e| anyhow::anyhow!("cannot get a probe token: {e}"))?;
        }
        if t.kid.as_deref() != Some(kid.as_str()) {
            anyhow::bail!("the active key changed while preparing the revocation; retry");
        }
        probes.push(t.access);
    }
    ev.revoked_kid = Some(kid.clone());
    let r: RevokeResponse = ctx
        .admin(reqwest::Method::POST, &format!("/admin/keys/{kid}/revoke"))
        .await?;
    let answered = Instant::now();
    let bound = ctx
        .args
        .cache_bound
        .map_or(r.caches_drop_within as f64 + 1.0, |d| d.as_secs_f64());
    ev.bound = Some(bound);
    let mut conv: Vec<Option<f64>> = vec![None; probes.len()];
    let deadline = answered + Duration::from_secs_f64(bound * 2.0 + 5.0);
    while conv.iter().any(Option::is_none) && Instant::now() < deadline {
        for (i, probe) in probes.iter().enumerate() {
            if conv[i].is_some() {
                continue;
            }
            let url = format!("{}{}", ctx.args.resources[i].url, ctx.args.path);
            if let Ok(res) = ctx.http.get(&url).bearer_auth(probe).send().await
                && res.status().as_u16() == 401
            {
                conv[i] = Some(answered.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ev.convergence = conv.clone();
    let worst = conv
        .iter()
        .map(|c| c.unwrap_or(f64::INFINITY))
        .fold(0.0, f64::max);
    if !worst.is_finite() {
        anyhow::bail!(
            "revoked key {kid} still accepted by a service after {:.1} s",
            bound * 2.0 + 5.0
        );
    }
    Ok(format!(
        "revoked {kid}, {} signs now, {} refresh families revoked; every service refuses it after {worst:.2} s (bound {bound:.1} s)",
        r.active_kid, r.refresh_families_revoked
    ))
}

/// JWKS fetch counters of one resource service, from its /metrics.
async fn jwks_counters(http: &reqwest::Client, base: &str) -> Option<[u64; 3]> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut out = [0u64; 3];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split([' ', '{']).next().unwrap_or("");
        let slot = if name.contains("jwks_fetch_ok") {
            0
        } else if name.contains("jwks_fetch_not_modified") {
            1
        } else if name.contains("jwks_fetch_error") {
            2
        } else {
            continue;
        };
        out[slot] += line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64;
    }
    Some(out)
}

fn classify(s: &Sample, events: &[Event]) -> &'static str {
    match s.status {
        200..=299 => return "ok",
        0 => return "transport_error",
        503 => return "unavailable",
        401 | 403 => {}
        _ => return "http_error",
    }
    for e in events {
        if let Some(k) = &e.revoked_kid
            && s.kid.as_deref() == Some(k.as_str())
            && s.t + 0.05 >= e.start
        {
            return "refused_revoked_key";
        }
    }
    if s.exp <= 0 {
        return "refused_expired";
    }
    for e in events {
        if e.revoked_kid.is_some() {
            let worst = e
                .convergence
                .iter()
                .flatten()
                .fold(0.0, |a: f64, b| a.max(*b));
            if s.t >= e.start && s.t <= e.end + worst + 1.0 {
                return "refused_during_emergency";
            }
        }
    }
    "refused_valid"
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn latency(samples: &[Sample], from: f64, to: f64) -> Value {
    let mut l: Vec<f64> = samples
        .iter()
        .filter(|s| {
            s.kind == Kind::Call && (200..300).contains(&s.status) && s.t >= from && s.t < to
        })
        .map(|s| s.latency_ms)
        .collect();
    l.sort_by(f64::total_cmp);
    json!({
        "from_s": round2(from), "to_s": round2(to), "n": l.len(),
        "p50_ms": round2(percentile(&l, 50.0)), "p90_ms": round2(percentile(&l, 90.0)),
        "p99_ms": round2(percentile(&l, 99.0)), "max_ms": round2(l.last().copied().unwrap_or(0.0)),
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.ops.is_empty() {
        return Err(usage(
            "give at least one --op (rotate, revoke-active, wait-scheduled)",
        ));
    }
    if !args.path.starts_with('/') {
        return Err(usage("--path must start with /"));
    }
    let admin_secret = secret_from_env(&args.admin_secret_env)?;
    let client_secret = secret_from_env(&args.client_secret_env)?;
    let password = match &args.username {
        Some(_) => Some(secret_from_env(&args.password_env)?),
        None => None,
    };
    let http = client()?;
    let n = args.resources.len();
    let ctx = Arc::new(Ctx {
        http: http.clone(),
        start: Instant::now(),
        stop: AtomicBool::new(false),
        samples: Mutex::new(Vec::new()),
        tokens: (0..n).map(|_| Mutex::new(TokenState::default())).collect(),
        renew: (0..n).map(|_| AtomicBool::new(false)).collect(),
        skipped: AtomicU64::new(0),
        client_secret,
        password,
        admin_secret,
        ops_done: AtomicU64::new(0),
        args,
    });
    // Preflight: admin API, load tokens, and every service reachable.
    let keys: KeyList = ctx.admin(reqwest::Method::GET, "/admin/keys").await?;
    for i in 0..n {
        let t = ctx.login(i).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot get a load token for audience {}: {e}",
                ctx.audience(i)
            )
        })?;
        *lock(&ctx.tokens[i]) = t;
    }
    let mut before = Vec::new();
    for r in &ctx.args.resources {
        let url = format!("{}/metrics", r.url);
        http.get(&url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(describe(&e, &url)))?;
        before.push(jwks_counters(&http, &r.url).await);
    }
    lock(&ctx.samples).clear();
    eprintln!(
        "drill: {} service(s), {} calls/s for {:.0} s, active key {}, JWKS max-age {} s",
        n,
        ctx.args.rate,
        ctx.args.duration.as_secs_f64(),
        keys.active_kid.as_deref().unwrap_or("-"),
        keys.jwks_max_age
    );
    let ctx = Arc::new(Ctx {
        start: Instant::now(),
        ..Arc::into_inner(ctx).ok_or_else(|| anyhow::anyhow!("internal: context still shared"))?
    });

    let load = tokio::spawn(generate_load(ctx.clone()));
    let maint = tokio::spawn(maintain_tokens(ctx.clone()));
    let prog = tokio::spawn(progress(ctx.clone(), ctx.args.ops.len()));
    let mut events = Vec::new();
    for op in &ctx.args.ops {
        if ctx.now() >= ctx.args.duration.as_secs_f64() {
            events.push(Event {
                op: op.kind.name(),
                start: ctx.now(),
                end: ctx.now(),
                ok: false,
                detail: "FAILED: not started, the drill time was over".into(),
                revoked_kid: None,
                convergence: vec![],
                bound: None,
            });
            continue;
        }
        events.push(run_op(&ctx, op).await);
        ctx.ops_done.fetch_add(1, Ordering::Relaxed);
    }
    sleep_until(&ctx, ctx.args.duration.as_secs_f64()).await;
    ctx.stop.store(true, Ordering::Relaxed);
    let _ = load.await;
    let _ = maint.await;
    prog.abort();
    let elapsed = ctx.now();
    let mut after = Vec::new();
    for r in &ctx.args.resources {
        after.push(jwks_counters(&http, &r.url).await);
    }

    let samples = lock(&ctx.samples).clone();
    report(&ctx, &samples, &events, &before, &after, elapsed)
}

fn report(
    ctx: &Ctx,
    samples: &[Sample],
    events: &[Event],
    before: &[Option<[u64; 3]>],
    after: &[Option<[u64; 3]>],
    elapsed: f64,
) -> anyhow::Result<ExitCode> {
    let args = &ctx.args;
    // Outcomes per service.
    let mut per_service: Vec<BTreeMap<&'static str, u64>> =
        vec![BTreeMap::new(); args.resources.len()];
    let mut classes = Vec::with_capacity(samples.len());
    for s in samples {
        let c = if s.kind == Kind::Call {
            classify(s, events)
        } else {
            ""
        };
        classes.push(c);
        if s.kind == Kind::Call {
            *per_service[s.idx].entry(c).or_default() += 1;
        }
    }
    let total = |name: &str| {
        per_service
            .iter()
            .map(|m| m.get(name).copied().unwrap_or(0))
            .sum::<u64>()
    };
    let refused_valid = total("refused_valid");
    let unavailable = total("unavailable");
    let mut issuer: BTreeMap<String, u64> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.kind != Kind::Call) {
        let name = format!(
            "{}_{}",
            if s.kind == Kind::Login {
                "login"
            } else {
                "refresh"
            },
            if s.status == 200 {
                "ok".to_owned()
            } else {
                format!("{}", s.status)
            }
        );
        *issuer.entry(name).or_default() += 1;
    }
    let jwks: Vec<Value> = args
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| match (before[i], after[i]) {
            (Some(b), Some(a)) => json!({"service": r.audience, "url": r.url, "fetch_ok": a[0].saturating_sub(b[0]), "not_modified": a[1].saturating_sub(b[1]), "fetch_error": a[2].saturating_sub(b[2])}),
            _ => json!({"service": r.audience, "url": r.url, "error": "metrics not readable"}),
        })
        .collect();
    let w = args.window.as_secs_f64();
    let ops: Vec<Value> = events
        .iter()
        .map(|e| {
            let during_end = e.end.max(e.start + w);
            json!({
                "op": e.op, "ok": e.ok, "start_s": round2(e.start), "end_s": round2(e.end), "detail": e.detail,
                "revoked_kid": e.revoked_kid,
                "convergence_s": e.convergence.iter().zip(&args.resources).map(|(c, r)| json!({"service": r.audience, "seconds": c.map(round2)})).collect::<Vec<_>>(),
                "convergence_max_s": e.convergence.iter().flatten().fold(None, |a: Option<f64>, b| Some(a.map_or(*b, |a| a.max(*b)))).map(round2),
                "bound_s": e.bound,
                "latency": {"before": latency(samples, (e.start - w).max(0.0), e.start), "during": latency(samples, e.start, during_end), "after": latency(samples, during_end, during_end + w)},
            })
        })
        .collect();
    let ops_failed = events.iter().filter(|e| !e.ok).count();
    let convergence_ok = events.iter().filter(|e| e.revoked_kid.is_some()).all(|e| {
        let worst = e
            .convergence
            .iter()
            .map(|c| c.unwrap_or(f64::INFINITY))
            .fold(0.0, f64::max);
        e.bound.is_some_and(|b| worst <= b)
    });
    let passed = refused_valid == 0 && unavailable == 0 && ops_failed == 0 && convergence_ok;
    let calls = samples.iter().filter(|s| s.kind == Kind::Call).count();
    let calls_t: Vec<(f64, &str)> = samples
        .iter()
        .zip(&classes)
        .filter(|(s, _)| s.kind == Kind::Call)
        .map(|(s, c)| (s.t, *c))
        .collect();
    let timeline = crate::svg::bins(&calls_t, elapsed);
    let doc = json!({
        "passed": passed,
        "duration_s": round2(elapsed),
        "rate_per_s": args.rate,
        "calls": calls,
        "skipped_calls": ctx.skipped.load(Ordering::Relaxed),
        "refused_valid": refused_valid,
        "unavailable": unavailable,
        "services": args.resources.iter().zip(&per_service).map(|(r, m)| json!({"service": r.audience, "url": r.url, "outcomes": m})).collect::<Vec<_>>(),
        "token_requests": issuer,
        "jwks_fetches": jwks,
        "operations": ops,
        "latency_overall": latency(samples, 0.0, elapsed + 1.0),
        "timeline": timeline.iter().map(|b| json!({"t": b.t, "ok": b.ok, "refused_valid": b.refused_valid, "refused_expected": b.refused_expected, "errors": b.errors})).collect::<Vec<_>>(),
    });

    // Human summary.
    println!(
        "Drill: {calls} resource calls in {elapsed:.1} s over {} service(s) ({} skipped at the concurrency cap)",
        args.resources.len(),
        ctx.skipped.load(Ordering::Relaxed)
    );
    println!("\nRequests by outcome");
    for (r, m) in args.resources.iter().zip(&per_service) {
        let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("  {:<12} {}", r.audience, parts.join(", "));
    }
    let parts: Vec<String> = issuer.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("  {:<12} {}", "issuer", parts.join(", "));
    println!("\nKey operations");
    for (e, o) in events.iter().zip(&ops) {
        println!("  {:>6.2}s  {:<15} {}", e.start, e.op, e.detail);
        let l = &o["latency"];
        println!(
            "           latency p50/p99 ms: before {}/{}  during {}/{}  after {}/{}",
            l["before"]["p50_ms"],
            l["before"]["p99_ms"],
            l["during"]["p50_ms"],
            l["during"]["p99_ms"],
            l["after"]["p50_ms"],
            l["after"]["p99_ms"]
        );
        for (c, r) in e.convergence.iter().zip(&args.resources) {
            match c {
                Some(c) => println!(
                    "           {} refuses the revoked key after {c:.2} s",
                    r.audience
                ),
                None => println!("           {} STILL ACCEPTS the revoked key", r.audience),
            }
        }
    }
    println!("\nJWKS fetches during the drill (from each service's /metrics)");
    for j in &jwks {
        println!(
            "  {:<12} ok {}, not modified {}, errors {}",
            j["service"].as_str().unwrap_or(""),
            j["fetch_ok"],
            j["not_modified"],
            j["fetch_error"]
        );
    }
    let o = &doc["latency_overall"];
    println!(
        "\nLatency of successful calls: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        o["p50_ms"], o["p90_ms"], o["p99_ms"], o["max_ms"]
    );
    println!(
        "\nValid requests refused: {refused_valid}   (expected refusals of the revoked key: {}, during the emergency: {})",
        total("refused_revoked_key"),
        total("refused_during_emergency")
    );
    println!("Result: {}", if passed { "PASS" } else { "FAIL" });

    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!("JSON report written to {}", path.display());
    }
    if let Some(path) = &args.svg {
        let marks: Vec<(f64, String)> = events
            .iter()
            .map(|e| {
                (
                    e.start,
                    if e.ok {
                        e.op.to_owned()
                    } else {
                        format!("{} (failed)", e.op)
                    },
                )
            })
            .collect();
        std::fs::write(path, crate::svg::render(&timeline, &marks, elapsed))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!("SVG timeline written to {}", path.display());
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
