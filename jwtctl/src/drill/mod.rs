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

//!
//! # Layout
//!
//! - [`args`]: the command line.
//! - [`context`]: the state the parts share and their calls to the issuer.
//! - [`load`]: the resource calls and the token maintainer.
//! - [`operations`]: the key operations through the admin API.
//! - [`services`]: the JWKS counters read from each service's `/metrics`.
//! - [`outcome`]: the one classification of a call.
//! - [`report`]: the typed report (`--json`).
//! - [`verdict`]: pass or fail.
//! - [`summary`]: the text summary.
//! - [`svg`]: the timeline picture (`--svg`).

mod args;
mod context;
mod load;
mod operations;
mod outcome;
mod report;
mod services;
mod summary;
mod svg;
mod verdict;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use shared::admin::KeyList;

pub use args::Args;
use context::{Ctx, TokenState, lock};
use operations::{Event, run_op, sleep_until};
pub use report::percentile;
use report::{Recorded, Report};
use services::{jwks_counters, reachable_jwks_counters};

use crate::http::{client, secret_from_env};
use crate::usage;

/// Runs the drill; exit code 0 when it passed, 1 when not.
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
    let client_secret = secret_from_env(&args.login.client_secret_env)?;
    let password = match &args.login.username {
        Some(_) => Some(secret_from_env(&args.login.password_env)?),
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
        before.push(
            reachable_jwks_counters(&http, &r.url)
                .await
                .map_err(|e| anyhow::anyhow!(e))?,
        );
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

    let load = tokio::spawn(load::generate_load(ctx.clone()));
    let maint = tokio::spawn(load::maintain_tokens(ctx.clone()));
    let prog = tokio::spawn(load::progress(ctx.clone(), ctx.args.ops.len()));
    let mut events = Vec::new();
    for op in &ctx.args.ops {
        if ctx.now() >= ctx.args.duration.as_secs_f64() {
            events.push(Event::not_started(op.kind, ctx.now()));
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
    let report = Report::build(
        &ctx.args,
        &Recorded {
            samples: &samples,
            events: &events,
            before: &before,
            after: &after,
            elapsed,
            skipped: ctx.skipped.load(Ordering::Relaxed),
        },
    );
    summary::print_summary(&report);
    write_outputs(&ctx.args, &report, &events, elapsed)?;
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes the `--json` report and the `--svg` picture, when asked for.
fn write_outputs(
    args: &Args,
    report: &Report,
    events: &[Event],
    elapsed: f64,
) -> anyhow::Result<()> {
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(report)?)
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
        std::fs::write(path, svg::render(&report.timeline, &marks, elapsed))
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!("SVG timeline written to {}", path.display());
    }
    Ok(())
}
