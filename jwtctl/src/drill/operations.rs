//! The key operations the drill drives through the admin API (planned
//! rotation, waiting for a scheduled one, emergency revocation with its
//! convergence measurement), each recorded as an [`Event`].

use std::time::{Duration, Instant};

use shared::admin::{KeyList, RevokeResponse, RotateResponse};

use super::args::{Op, OpKind};
use super::context::{Ctx, lock};

/// A key operation as it happened.
#[derive(Debug, Clone)]
pub struct Event {
    /// The operation's name (`rotate`, ...).
    pub op: &'static str,
    /// Seconds since the start when it took effect (for `wait-scheduled`,
    /// when the key activated).
    pub start: f64,
    /// Seconds since the start when it finished.
    pub end: f64,
    pub ok: bool,
    /// What happened, or `FAILED: why`.
    pub detail: String,
    /// The key an emergency revocation revoked.
    pub revoked_kid: Option<String>,
    /// Per service: seconds from the revocation answer until it refused.
    pub convergence: Vec<Option<f64>>,
    /// The convergence bound in seconds (revocations).
    pub bound: Option<f64>,
}

impl Event {
    /// The slowest convergence among the services that refused the revoked
    /// key (`None` when none did).
    pub fn slowest_converged(&self) -> Option<f64> {
        self.convergence.iter().flatten().copied().reduce(f64::max)
    }

    /// The slowest convergence, infinite when a service never refused the
    /// revoked key (0 with no services).
    pub fn worst_convergence(&self) -> f64 {
        self.convergence
            .iter()
            .map(|c| c.unwrap_or(f64::INFINITY))
            .fold(0.0, f64::max)
    }

    fn new(op: OpKind, at: f64) -> Self {
        Event {
            op: op.name(),
            start: at,
            end: at,
            ok: false,
            detail: String::new(),
            revoked_kid: None,
            convergence: vec![],
            bound: None,
        }
    }

    /// An operation the drill had no time left to start.
    pub fn not_started(op: OpKind, at: f64) -> Self {
        Event {
            detail: "FAILED: not started, the drill time was over".into(),
            ..Event::new(op, at)
        }
    }
}

/// Sleeps until `at` seconds since the start.
pub async fn sleep_until(ctx: &Ctx, at: f64) {
    let wait = at - ctx.now();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

/// Carries out one `--op` (after waiting for its `@T`) and records it.
pub async fn run_op(ctx: &Ctx, op: &Op) -> Event {
    let end = ctx.args.duration.as_secs_f64();
    if let Some(at) = op.at {
        sleep_until(ctx, at.as_secs_f64().min(end)).await;
    }
    let mut ev = Event::new(op.kind, ctx.now());
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

/// A planned rotation through the admin API.
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

/// Waits until the pending key activates on the issuer's own schedule.
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
                service_kit::time::rfc3339(pending.activate_at),
                ctx.now()
            ));
        }
        if Instant::now() > deadline {
            anyhow::bail!("key {} did not activate by its scheduled time", pending.kid);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Revokes the signing key and measures, per service, how long until a
/// token signed by it is refused.
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
    let worst = ev.worst_convergence();
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
