//! `jwtctl bench`: bounded loopback load, one scenario after the other,
//! printed as a markdown table naming the machine.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::drill::percentile;
use crate::http::{client, describe, secret_from_env, token_request};
use crate::login::LoadLogin;
use crate::{ResourceSpec, parse_duration, parse_resource, usage};

#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  export JWTCTL_CLIENT_SECRET=... JWTCTL_PASSWORD=...
  jwtctl bench --issuer http://127.0.0.1:8080 --resource orders=http://127.0.0.1:8081 \\
      --client-id cli --username alice --seconds 5s --concurrency 16

Scenarios: token by grant (client_credentials; password and refresh_token with --username),
resource calls with one repeated token, with distinct tokens, and the unprotected /v1/public.")]
pub struct Args {
    #[arg(long)]
    pub issuer: String,
    /// The resource service as AUDIENCE=URL.
    #[arg(long, value_parser = parse_resource)]
    pub resource: ResourceSpec,
    #[command(flatten)]
    pub login: LoadLogin,
    /// Protected path to call.
    #[arg(long, default_value = "/v1/me")]
    pub path: String,
    /// Unprotected path to call.
    #[arg(long, default_value = "/v1/public")]
    pub public_path: String,
    /// Time per scenario.
    #[arg(long, value_parser = parse_duration, default_value = "3s")]
    pub seconds: Duration,
    /// Concurrent requests.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Distinct tokens for the distinct-token scenario.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub distinct: u32,
}

type Job = Arc<dyn Fn(usize, u64) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

struct Row {
    name: String,
    n: usize,
    secs: f64,
    lat: Vec<f64>,
    errors: usize,
}

async fn scenario(name: &str, seconds: Duration, concurrency: u32, job: Job) -> Row {
    eprintln!("bench: {name} ...");
    let start = Instant::now();
    let deadline = start + seconds;
    let mut handles = Vec::new();
    for w in 0..concurrency as usize {
        let job = job.clone();
        handles.push(tokio::spawn(async move {
            let (mut lat, mut errors, mut i) = (Vec::new(), 0usize, 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                if job(w, i).await {
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                } else {
                    errors += 1;
                }
                i += 1;
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for h in handles {
        if let Ok((l, e)) = h.await {
            lat.extend(l);
            errors += e;
        }
    }
    lat.sort_by(f64::total_cmp);
    Row {
        name: name.to_owned(),
        n: lat.len() + errors,
        secs: start.elapsed().as_secs_f64(),
        lat,
        errors,
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {model}")
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let secret = Arc::new(secret_from_env(&args.login.client_secret_env)?);
    let password = match &args.login.username {
        Some(_) => Some(Arc::new(secret_from_env(&args.login.password_env)?)),
        None => None,
    };
    if !args.path.starts_with('/') || !args.public_path.starts_with('/') {
        return Err(usage("paths must start with /"));
    }
    let http = client()?;
    let issuer = Arc::new(args.issuer.trim_end_matches('/').to_owned());
    let cid = Arc::new(args.login.client_id.clone());
    let aud = Arc::new(args.resource.audience.clone());
    let scope = Arc::new(args.login.scope.clone().unwrap_or_default());
    let cc = {
        let (http, issuer, cid, secret, aud, scope) = (
            http.clone(),
            issuer.clone(),
            cid.clone(),
            secret.clone(),
            aud.clone(),
            scope.clone(),
        );
        move || {
            let (http, issuer, cid, secret, aud, scope) = (
                http.clone(),
                issuer.clone(),
                cid.clone(),
                secret.clone(),
                aud.clone(),
                scope.clone(),
            );
            async move {
                let mut form = vec![
                    ("grant_type", "client_credentials"),
                    ("audience", aud.as_str()),
                ];
                if !scope.is_empty() {
                    form.push(("scope", scope.as_str()));
                }
                token_request(&http, &issuer, &cid, Some(&secret), &form).await
            }
        }
    };
    // Preflight with a clear error.
    let first = cc()
        .await
        .map_err(|e| anyhow::anyhow!("cannot get a token: {e}"))?;
    let probe = format!("{}{}", args.resource.url, args.public_path);
    http.get(&probe)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e, &probe)))?;

    let mut rows = Vec::new();
    let cc2 = cc.clone();
    let job: Job = Arc::new(move |_, _| {
        let f = cc2();
        Box::pin(async move { f.await.is_ok() })
    });
    rows.push(
        scenario(
            "token client_credentials",
            args.seconds,
            args.concurrency,
            job,
        )
        .await,
    );

    if let (Some(user), Some(pw)) = (&args.login.username, &password) {
        let login = {
            let (http, issuer, cid, secret, aud, user, pw) = (
                http.clone(),
                issuer.clone(),
                cid.clone(),
                secret.clone(),
                aud.clone(),
                Arc::new(user.clone()),
                pw.clone(),
            );
            move || {
                let (http, issuer, cid, secret, aud, user, pw) = (
                    http.clone(),
                    issuer.clone(),
                    cid.clone(),
                    secret.clone(),
                    aud.clone(),
                    user.clone(),
                    pw.clone(),
                );
                async move {
                    let form = [
                        ("grant_type", "password"),
                        ("username", user.as_str()),
                        ("password", pw.as_str()),
                        ("audience", aud.as_str()),
                    ];
                    token_request(&http, &issuer, &cid, Some(&secret), &form).await
                }
            }
        };
        let l2 = login.clone();
        let job: Job = Arc::new(move |_, _| {
            let f = l2();
            Box::pin(async move { f.await.is_ok() })
        });
        rows.push(
            scenario(
                "token password (argon2)",
                args.seconds,
                args.concurrency,
                job,
            )
            .await,
        );
        // One refresh chain per worker.
        let mut chains = Vec::new();
        for _ in 0..args.concurrency {
            let t = login()
                .await
                .map_err(|e| anyhow::anyhow!("cannot log in for the refresh benchmark: {e}"))?;
            chains.push(Mutex::new(t.refresh_token.unwrap_or_default()));
        }
        let chains = Arc::new(chains);
        let (http2, issuer2, cid2, secret2) =
            (http.clone(), issuer.clone(), cid.clone(), secret.clone());
        let job: Job = Arc::new(move |w, _| {
            let (http, issuer, cid, secret, chains) = (
                http2.clone(),
                issuer2.clone(),
                cid2.clone(),
                secret2.clone(),
                chains.clone(),
            );
            Box::pin(async move {
                let rt = chains[w].lock().map(|g| g.clone()).unwrap_or_default();
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                ];
                match token_request(&http, &issuer, &cid, Some(&secret), &form).await {
                    Ok(t) => {
                        if let (Ok(mut g), Some(new)) = (chains[w].lock(), t.refresh_token) {
                            *g = new;
                        }
                        true
                    }
                    Err(_) => false,
                }
            })
        });
        rows.push(scenario("token refresh_token", args.seconds, args.concurrency, job).await);
    }

    let get = |url: String, token: Option<Arc<Vec<String>>>| -> Job {
        let http = http.clone();
        Arc::new(move |w, i| {
            let mut req = http.get(&url);
            if let Some(tokens) = &token {
                req = req.bearer_auth(&tokens[(w + i as usize * 7) % tokens.len()]);
            }
            Box::pin(async move { matches!(req.send().await, Ok(r) if r.status().is_success()) })
        })
    };
    let protected = format!("{}{}", args.resource.url, args.path);
    rows.push(
        scenario(
            "resource, one repeated token",
            args.seconds,
            args.concurrency,
            get(protected.clone(), Some(Arc::new(vec![first.access_token]))),
        )
        .await,
    );
    let mut tokens = Vec::new();
    for _ in 0..args.distinct {
        tokens.push(
            cc().await
                .map_err(|e| anyhow::anyhow!("cannot get a token: {e}"))?
                .access_token,
        );
    }
    let name = format!("resource, {} distinct tokens", args.distinct);
    rows.push(
        scenario(
            &name,
            args.seconds,
            args.concurrency,
            get(protected, Some(Arc::new(tokens))),
        )
        .await,
    );
    rows.push(
        scenario(
            &format!("unprotected {}", args.public_path),
            args.seconds,
            args.concurrency,
            get(probe, None),
        )
        .await,
    );

    println!(
        "Machine: {}; concurrency {}, {:.0} s per scenario, loopback",
        machine(),
        args.concurrency,
        args.seconds.as_secs_f64()
    );
    println!();
    println!("| scenario | requests | req/s | p50 ms | p90 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            r.name,
            r.n,
            r.n as f64 / r.secs.max(1e-9),
            percentile(&r.lat, 50.0),
            percentile(&r.lat, 90.0),
            percentile(&r.lat, 99.0),
            r.errors
        );
    }
    Ok(if rows.iter().all(|r| r.errors == 0) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
