//! The load: resource calls at `--rate` per second, round-robin over the
//! services, and the token maintainer that keeps every load token fresh.
//! Both record every request in the context and stop when it says so.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::context::{Ctx, Kind, Sample, lock};

/// Renews every token each `refresh_every`, or at once when a call with it
/// was refused (at most every 250 ms per audience).
pub async fn maintain_tokens(ctx: Arc<Ctx>) {
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

/// One resource call with the current token of service `idx`.
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

/// Sends `--rate` calls per second until the drill stops, at most 128 in
/// flight (the rest are counted as skipped).
pub async fn generate_load(ctx: Arc<Ctx>) {
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

/// A progress line on stderr every 2 s.
pub async fn progress(ctx: Arc<Ctx>, total_ops: usize) {
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
