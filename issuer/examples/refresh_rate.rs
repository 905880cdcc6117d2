//! Refresh grants per second through the real service on loopback: starts
//! the issuer on port 0 with a fresh SQLite database, logs in once per
//! family, then `tasks` concurrent clients each rotate their own family's
//! refresh token over a keep-alive connection for `seconds`. Every refresh
//! signs an access token and commits a rotation, so compare the figure with
//! `openssl speed -seconds 5 rsa2048` (sign/s) from the same sitting.
//!
//! Run: `cargo run --release -p issuer --example refresh_rate [seconds] [tasks]`
//! (other `ISSUER_*` variables apply, e.g. `ISSUER_WORKERS`,
//! `ISSUER_DB_MAX_CONNECTIONS`; `BENCH_DIR` sets the database directory,
//! default: a temporary directory).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::{Duration, Instant};

use issuer::Application;
use issuer::config::{Config, KekSource};
use issuer::password::hash_password;
use issuer::routes::token::hash_client_secret;
use issuer::store::{Client, User};
use shared::config::Secret;

const SECRET: &str = "bench-secret-0123456789";

/// This process's user + system CPU time in seconds (Linux `/proc`): the
/// server and the benchmark clients together.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Option<serde_json::Value> {
    let res = http
        .post(url)
        .basic_auth("bench", Some(SECRET))
        .form(form)
        .send()
        .await
        .ok()?;
    if !res.status().is_success() {
        eprintln!("unexpected status {}", res.status());
        return None;
    }
    res.json().await.ok()
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let tasks: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(8);
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var("BENCH_DIR").map_or_else(|_| temp.path().to_owned(), Into::into);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    // Other ISSUER_* variables (workers, pool size, grace…) apply as usual.
    let config = Config {
        listen: "127.0.0.1:0".into(),
        issuer_url: address.clone(),
        database_url: format!("sqlite:{}", dir.join("bench.db").display()),
        kek: KekSource::Inline(Secret::new([7u8; 32])),
        ..Config::from_env().expect("ISSUER_* configuration")
    };
    let app = Application::build_with_listener(config, listener)
        .await
        .expect("issuer starts");
    app.store()
        .insert_user(&User {
            name: "alice".into(),
            password_hash: hash_password(b"correct horse battery").unwrap(),
            roles: vec!["admin".into()],
            scopes: None,
            audiences: None,
            disabled: false,
        })
        .await
        .unwrap();
    app.store()
        .insert_client(&Client {
            id: "bench".into(),
            secret_hash: Some(hash_client_secret(SECRET)),
            scopes: vec!["items:read".into(), "items:write".into()],
            audiences: vec!["orders".into()],
            disabled: false,
        })
        .await
        .unwrap();
    let handle = app.handle();
    let server = tokio::spawn(app.run());

    let url = format!("{address}/oauth2/token");
    let mut workers = Vec::new();
    // Everyone starts together after the logins.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(tasks + 1));
    for _ in 0..tasks {
        let url = url.clone();
        let start = start.clone();
        workers.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let login = post(
                &http,
                &url,
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "correct horse battery"),
                ],
            )
            .await
            .expect("login");
            let mut token = login["refresh_token"].as_str().unwrap().to_owned();
            start.wait().await;
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let (mut ok, mut failed) = (0u64, 0u64);
            while Instant::now() < deadline {
                let form = [("grant_type", "refresh_token"), ("refresh_token", &token)];
                match post(&http, &url, &form).await {
                    Some(body) => {
                        token = body["refresh_token"].as_str().unwrap().to_owned();
                        ok += 1;
                    }
                    None => {
                        failed += 1;
                        break;
                    }
                }
            }
            (ok, failed)
        }));
    }
    start.wait().await;
    let began = Instant::now();
    let cpu_before = process_cpu_seconds();
    let (mut ok, mut failed) = (0u64, 0u64);
    for w in workers {
        let (o, f) = w.await.unwrap();
        ok += o;
        failed += f;
    }
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds()
        .zip(cpu_before)
        .map_or(f64::NAN, |(after, before)| after - before);
    println!(
        "{ok} refreshes in {elapsed:.2}s with {tasks} clients: {:.0} refreshes/s ({failed} failed); \
         {cpu:.2}s CPU (server + clients): {:.0} refreshes per CPU-second",
        ok as f64 / elapsed,
        ok as f64 / cpu
    );
    handle.stop(true).await;
    server.await.unwrap().unwrap();
}
