//! Refresh grants per second through the real service on loopback: logs in
//! once per family, then `tasks` concurrent clients each rotate their own
//! family's refresh token over keep-alive connections for `seconds`. Every
//! refresh signs an access token and commits a rotation, so compare the
//! figure with `openssl speed -seconds 5 rsa2048` (sign/s) from the same
//! sitting.
//!
//! `REFRESH_RATE_GRANT=client_credentials` drives that grant instead (no
//! login; every request asks for a token with the client's credentials).
//! `REFRESH_RATE_COUNT=N` ends the run after N counted answers in all (or
//! at `seconds`, whichever comes first), so that runs of different grants
//! do the same work.
//!
//! Two modes:
//!
//! - In-process (default): starts the issuer on port 0 with a fresh SQLite
//!   database in this process. Other `ISSUER_*` variables apply, e.g.
//!   `ISSUER_WORKERS`, `ISSUER_DB_MAX_CONNECTIONS`; `BENCH_DIR` sets the
//!   database directory (default: a temporary directory).
//! - External targets: `REFRESH_RATE_TARGETS=http://127.0.0.1:A,http://127.0.0.1:B`
//!   drives issuers that already run (loopback only), with a user and a
//!   client made beforehand (`issuer users add`, `issuer clients add
//!   --secret-stdin`): `REFRESH_RATE_USERNAME` / `REFRESH_RATE_PASSWORD`
//!   (default `alice` / `correct horse battery`), `REFRESH_RATE_CLIENT_ID` /
//!   `REFRESH_RATE_CLIENT_SECRET` (default `bench` / `bench-secret-0123456789`).
//!   Client `i` logs in at target `i mod n`, then sends its `k`-th refresh
//!   to target `(i + k) mod n`, so with two targets every rotation of a
//!   family crosses instances. `REFRESH_RATE_WARMUP` (seconds, default 1)
//!   of uncounted refreshes first fills the connection pools.
//!   `REFRESH_RATE_CPU_PIDS=name=pid,…` reports the CPU time each named
//!   process and its descendants used during the measured window.
//!
//! Any answer but 200 (or a transport error) counts as an error, in the
//! warm-up too; the client then logs in again and carries on (a failed
//! login ends that client: `lost`).
//! The last line is `RESULT key=value …` for scripts.
//!
//! Run: `cargo run --release -p issuer --example refresh_rate [seconds] [tasks]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use service_kit::config::Secret;
use testkit::fixtures::Fixtures;
use testkit::internals::{Config, KekSource};

const CLIENT_ID: &str = "bench";
const SECRET: &str = "bench-secret-0123456789";
const USERNAME: &str = "alice";
const PASSWORD: &str = "correct horse battery";
/// Error messages printed before going quiet (the counts are in the result).
const ERRORS_SHOWN: u64 = 5;

/// The grant the clients drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    RefreshToken,
    ClientCredentials,
}

impl Grant {
    fn from_env() -> Self {
        match env_or("REFRESH_RATE_GRANT", "refresh_token").as_str() {
            "refresh_token" => Grant::RefreshToken,
            "client_credentials" => Grant::ClientCredentials,
            other => {
                panic!("REFRESH_RATE_GRANT: refresh_token or client_credentials, not {other:?}")
            }
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        }
    }
}

/// Who the clients are and where they send their requests.
#[derive(Debug, Clone)]
struct Load {
    grant: Grant,
    /// Counted requests left in all (`REFRESH_RATE_COUNT`), if bounded.
    budget: Option<Arc<AtomicU64>>,
    token_urls: Vec<String>,
    client_id: String,
    client_secret: String,
    username: String,
    password: String,
}

/// One client's tally.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    client_errors: u64,
    server_errors: u64,
    transport_errors: u64,
    logins: u64,
    /// Clients left without a token (a failed login): they stopped.
    lost: u64,
    /// Latency of each successful refresh, microseconds.
    micros: Vec<u32>,
}

impl Tally {
    fn errors(&self) -> u64 {
        self.client_errors + self.server_errors + self.transport_errors
    }

    fn failed(&mut self, failure: Failure) {
        match failure {
            Failure::Status(s) if s.is_client_error() => self.client_errors += 1,
            Failure::Status(_) => self.server_errors += 1,
            Failure::Transport => self.transport_errors += 1,
        }
    }

    fn add(&mut self, other: Tally) {
        self.ok += other.ok;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.transport_errors += other.transport_errors;
        self.logins += other.logins;
        self.lost += other.lost;
        self.micros.extend(other.micros);
    }
}

/// Why a token request failed.
enum Failure {
    Status(reqwest::StatusCode),
    Transport,
}

/// User + system CPU seconds of one process (Linux `/proc`).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Busy and total CPU ticks of the whole machine, all cores (`/proc/stat`).
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((total - idle, total))
}

/// `pid` and every live descendant, with their CPU seconds.
fn tree_cpu(pid: u32) -> HashMap<u32, f64> {
    let mut found = HashMap::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        if found.len() > 4096 {
            break;
        }
        let Some(cpu) = cpu_seconds(p) else { continue };
        found.insert(p, cpu);
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    found
}

/// Named process trees from `REFRESH_RATE_CPU_PIDS=name=pid,…`.
fn watched() -> Vec<(String, u32)> {
    std::env::var("REFRESH_RATE_CPU_PIDS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|item| {
            let (name, pid) = item.trim().split_once('=')?;
            Some((name.to_owned(), pid.parse().ok()?))
        })
        .collect()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Only plain HTTP to loopback: this is a benchmark, not a client.
fn loopback(url: &str) -> bool {
    ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|prefix| url.starts_with(prefix))
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    load: &Load,
    form: &[(&str, &str)],
    shown: &AtomicU64,
) -> Result<serde_json::Value, Failure> {
    let failed = |what: String, failure: Failure| {
        if shown.fetch_add(1, Ordering::Relaxed) < ERRORS_SHOWN {
            eprintln!("{url}: {what}");
        }
        failure
    };
    let res = http
        .post(url)
        .basic_auth(&load.client_id, Some(&load.client_secret))
        .form(form)
        .send()
        .await
        .map_err(|e| failed(format!("request failed: {e}"), Failure::Transport))?;
    let status = res.status();
    if status != reqwest::StatusCode::OK {
        let body = res.text().await.unwrap_or_default();
        let body: String = body.chars().take(200).collect();
        return Err(failed(
            format!("unexpected status {status}: {body}"),
            Failure::Status(status),
        ));
    }
    res.json()
        .await
        .map_err(|e| failed(format!("unreadable answer: {e}"), Failure::Transport))
}

async fn login(
    http: &reqwest::Client,
    url: &str,
    load: &Load,
    shown: &AtomicU64,
) -> Result<String, Failure> {
    let form = [
        ("grant_type", "password"),
        ("username", load.username.as_str()),
        ("password", load.password.as_str()),
    ];
    let body = post(http, url, load, &form, shown).await?;
    body["refresh_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or(Failure::Transport)
}

/// Client `index`: logs in, rotates until `warm_until` uncounted, waits for
/// everyone at `start`, then rotates for `seconds`.
async fn client(
    index: usize,
    load: Arc<Load>,
    seconds: u64,
    warmup: Duration,
    start: Arc<tokio::sync::Barrier>,
    shown: Arc<AtomicU64>,
) -> Tally {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let targets = load.token_urls.len();
    let mut sent = index;
    let mut tally = Tally {
        logins: 1,
        ..Tally::default()
    };
    // client_credentials needs no login: an empty "token" stands for "ready".
    let mut token = match load.grant {
        Grant::ClientCredentials => Some(String::new()),
        Grant::RefreshToken => login(&http, &load.token_urls[index % targets], &load, &shown)
            .await
            .map_err(|failure| tally.failed(failure))
            .ok(),
    };
    let mut counting = false;
    let mut deadline = Instant::now() + warmup;
    loop {
        if token.is_none() {
            // A failed login: this client stops, but still meets the others.
            if !counting {
                start.wait().await;
            }
            tally.lost = 1;
            break;
        }
        if Instant::now() >= deadline {
            if counting {
                break;
            }
            // Everyone starts together after the logins and the warm-up;
            // errors seen during the warm-up stay counted.
            start.wait().await;
            tally.ok = 0;
            tally.micros.clear();
            counting = true;
            deadline = Instant::now() + Duration::from_secs(seconds);
        }
        if counting
            && let Some(budget) = &load.budget
            && budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_err()
        {
            break;
        }
        let url = &load.token_urls[sent % targets];
        sent += 1;
        let Some(current) = &token else { continue };
        let form: &[(&str, &str)] = match load.grant {
            Grant::RefreshToken => &[("grant_type", "refresh_token"), ("refresh_token", current)],
            Grant::ClientCredentials => &[("grant_type", "client_credentials")],
        };
        let began = Instant::now();
        match post(&http, url, &load, form, &shown).await {
            Ok(body) => {
                let micros = u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX);
                if load.grant == Grant::RefreshToken {
                    token = body["refresh_token"].as_str().map(str::to_owned);
                }
                tally.ok += 1;
                tally.micros.push(micros);
            }
            Err(failure) if load.grant == Grant::ClientCredentials => tally.failed(failure),
            Err(failure) => {
                tally.failed(failure);
                // The token may be spent: start a new family.
                token = login(&http, url, &load, &shown)
                    .await
                    .map_err(|failure| tally.failed(failure))
                    .ok();
                tally.logins += 1;
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let tasks: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);
    let temp = tempfile::tempdir().unwrap();

    let grant = Grant::from_env();
    let budget = std::env::var("REFRESH_RATE_COUNT").ok().map(|n| {
        Arc::new(AtomicU64::new(
            n.parse().expect("REFRESH_RATE_COUNT: a whole number"),
        ))
    });
    let external = std::env::var("REFRESH_RATE_TARGETS").ok();
    let mut server = None;
    let (load, warmup) = if let Some(targets) = external {
        let token_urls: Vec<String> = targets
            .split(',')
            .map(|t| format!("{}/oauth2/token", t.trim().trim_end_matches('/')))
            .collect();
        assert!(
            token_urls.iter().all(|u| loopback(u)),
            "REFRESH_RATE_TARGETS: loopback http:// URLs only"
        );
        let warmup: f64 = env_or("REFRESH_RATE_WARMUP", "1")
            .parse()
            .expect("REFRESH_RATE_WARMUP: seconds");
        let load = Load {
            grant,
            budget: budget.clone(),
            token_urls,
            client_id: env_or("REFRESH_RATE_CLIENT_ID", CLIENT_ID),
            client_secret: env_or("REFRESH_RATE_CLIENT_SECRET", SECRET),
            username: env_or("REFRESH_RATE_USERNAME", USERNAME),
            password: env_or("REFRESH_RATE_PASSWORD", PASSWORD),
        };
        (load, Duration::from_secs_f64(warmup.clamp(0.0, 60.0)))
    } else {
        let dir = std::env::var("BENCH_DIR").map_or_else(|_| temp.path().to_owned(), Into::into);
        // The test kit's issuer on port 0; other ISSUER_* variables
        // (workers, pool size, grace…) apply as usual.
        let app = testkit::spawn_with(&dir, None, |c| {
            *c = Config {
                listen: c.listen.clone(),
                issuer_url: c.issuer_url.clone(),
                database_url: format!("sqlite:{}", dir.join("bench.db").display()),
                kek: KekSource::Inline(Secret::new([7u8; 32])),
                ..Config::from_env().expect("ISSUER_* configuration")
            };
        })
        .await;
        app.seed(
            &Fixtures::new().user(USERNAME, PASSWORD, &["admin"]).client(
                CLIENT_ID,
                Some(SECRET),
                &["items:read", "items:write"],
                &["orders"],
            ),
        )
        .await;
        let address = app.address.clone();
        server = Some(app);
        let load = Load {
            grant,
            budget: budget.clone(),
            token_urls: vec![format!("{address}/oauth2/token")],
            client_id: CLIENT_ID.into(),
            client_secret: SECRET.into(),
            username: USERNAME.into(),
            password: PASSWORD.into(),
        };
        (load, Duration::ZERO)
    };

    let load = Arc::new(load);
    let shown = Arc::new(AtomicU64::new(0));
    let start = Arc::new(tokio::sync::Barrier::new(tasks + 1));
    let workers: Vec<_> = (0..tasks)
        .map(|i| {
            tokio::spawn(client(
                i,
                load.clone(),
                seconds,
                warmup,
                start.clone(),
                shown.clone(),
            ))
        })
        .collect();
    let watch = watched();
    start.wait().await;
    let began = Instant::now();
    let own_before = cpu_seconds(std::process::id());
    let machine_before = machine_ticks();
    let trees_before: Vec<_> = watch.iter().map(|(_, pid)| tree_cpu(*pid)).collect();
    let mut tally = Tally::default();
    for w in workers {
        tally.add(w.await.unwrap());
    }
    let elapsed = began.elapsed().as_secs_f64();
    let own = cpu_seconds(std::process::id())
        .zip(own_before)
        .map_or(f64::NAN, |(after, before)| after - before);
    // Cores busy machine-wide during the window (other work included).
    let machine = machine_ticks()
        .zip(machine_before)
        .map_or(f64::NAN, |((busy, _), (busy_before, _))| {
            (busy - busy_before) as f64 / 100.0 / elapsed
        });
    let trees: Vec<(String, f64)> = watch
        .iter()
        .zip(&trees_before)
        .map(|((name, pid), before)| {
            let after = tree_cpu(*pid);
            let used: f64 = after
                .iter()
                .map(|(p, cpu)| cpu - before.get(p).copied().unwrap_or(0.0))
                .sum();
            (name.clone(), used)
        })
        .collect();

    tally.micros.sort_unstable();
    // Over the whole window even if every client was lost before its end
    // (a run bounded by REFRESH_RATE_COUNT ends when the count is reached).
    let window = if budget.is_some() {
        elapsed
    } else {
        elapsed.max(seconds as f64)
    };
    let rate = tally.ok as f64 / window;
    let (p50, p99) = (
        percentile(&tally.micros, 0.50),
        percentile(&tally.micros, 0.99),
    );
    let targets = load.token_urls.len();
    let errors = tally.errors();
    let what = if server.is_some() {
        "server + clients"
    } else {
        "load generator"
    };
    println!(
        "{} {} grants in {elapsed:.2}s with {tasks} clients over {targets} target(s): \
         {rate:.0}/s, {errors} errors ({} 4xx, {} 5xx, {} transport; {} clients lost), \
         p50 {p50:.2} ms, p99 {p99:.2} ms; {own:.2}s CPU ({what}): {:.0} per CPU-second; \
         machine: {machine:.2} cores busy",
        tally.ok,
        grant.as_str(),
        tally.client_errors,
        tally.server_errors,
        tally.transport_errors,
        tally.lost,
        tally.ok as f64 / own
    );
    for (name, used) in &trees {
        println!(
            "  {name}: {used:.2}s CPU, {:.3} ms per grant",
            used * 1000.0 / tally.ok as f64
        );
    }
    let mut result = format!(
        "RESULT grant={} clients={tasks} targets={targets} seconds={elapsed:.2} ok={} rate={rate:.1} \
         errors={errors} errors_4xx={} errors_5xx={} errors_transport={} logins={} lost={} \
         p50_ms={p50:.2} p99_ms={p99:.2} machine_cores_busy={machine:.2} cpu_self={own:.2}",
        grant.as_str(),
        tally.ok,
        tally.client_errors,
        tally.server_errors,
        tally.transport_errors,
        tally.logins,
        tally.lost
    );
    for (name, used) in &trees {
        result.push_str(&format!(" cpu_{name}={used:.2}"));
    }
    println!("{result}");

    if let Some(app) = server {
        app.stop().await;
    }
}
