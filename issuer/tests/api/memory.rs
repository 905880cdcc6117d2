//! Memory and answers under a flood of failed logins. Each password check
//! needs 19 MiB (Argon2id, m=19456 KiB); the issuer keeps one set of
//! blocks per `ISSUER_PASSWORD_HASH_CONCURRENCY` job and queues the rest
//! (`ISSUER_PASSWORD_QUEUE`, `ISSUER_PASSWORD_QUEUE_TIMEOUT`), so a real
//! `issuer serve` process stays within start-up memory plus concurrency ×
//! 19 MiB, and a login that finds the queue full is answered 503, never
//! 500. Runs on SQLite and, in the CI pass, on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
use testkit::internals::User;

use crate::helpers::{expect_oauth_error, spawn_app_with, test_database_url};
use crate::procs::{self, login, token};

/// Argon2id memory cost of one check, KiB (m=19456).
const MEMORY_COST_KIB: u64 = 19_456;
const CONCURRENCY: u64 = 2;
const LOGINS: usize = 200;
const IN_FLIGHT: usize = 50;

/// A `/proc/PID/status` field in KiB (`VmHWM`: peak resident set).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[tokio::test]
async fn a_flood_of_failed_logins_stays_within_the_password_pool_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = test_database_url(dir.path());
    let _store = procs::seed(&db_url).await;
    let concurrency = CONCURRENCY.to_string();
    let issuer = procs::start(
        &db_url,
        &[
            ("ISSUER_PASSWORD_HASH_CONCURRENCY", &concurrency),
            // Every login reaches the password check, as from many
            // addresses; alice's own limit (5) still applies.
            ("ISSUER_LOGIN_MAX_FAILURES_PER_IP", "100000"),
        ],
    )
    .await;
    let http = procs::http();
    login(&http, &issuer.url).await;
    let base = status_kib(issuer.pid(), "VmHWM");

    // 200 failed logins, 50 at a time: a quarter wrong passwords for alice
    // (throttled after 5), the rest unknown usernames (each checked).
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (http, url, next) = (http.clone(), issuer.url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= LOGINS {
                    return statuses;
                }
                let user = if i % 4 == 0 {
                    "alice".to_owned()
                } else {
                    format!("nobody-{i}")
                };
                let form = [
                    ("grant_type", "password"),
                    ("username", user.as_str()),
                    ("password", "not-the-password"),
                ];
                let res = token(&http, &url, &form).await.unwrap();
                statuses.push(res.status().as_u16());
            }
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        let done = tokio::time::timeout(Duration::from_secs(120), task).await;
        statuses.extend(done.expect("the flood took over 2 minutes").unwrap());
    }
    let peak = status_kib(issuer.pid(), "VmHWM");
    let count = |s: u16| statuses.iter().filter(|&&x| x == s).count();
    let bound = (base + CONCURRENCY * MEMORY_COST_KIB) * 6 / 5;
    eprintln!(
        "login flood: base {base} KiB, peak {peak} KiB, bound {bound} KiB; \
         400: {}, 429: {}, 503: {}",
        count(400),
        count(429),
        count(503)
    );

    assert_eq!(statuses.len(), LOGINS);
    assert!(
        statuses.iter().all(|s| [400, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(count(400) > 0 && count(429) > 0, "{statuses:?}");
    assert!(
        peak <= bound,
        "peak RSS {peak} KiB over {bound} KiB = (base {base} + {CONCURRENCY} x {MEMORY_COST_KIB}) + 20 %"
    );
    assert!(issuer.log_lines("panicked").is_empty());
}

/// A stored hash with a time cost of 40: one check keeps the only worker
/// busy for hundreds of milliseconds.
fn slow_hash(password: &str) -> String {
    let params = Params::new(8192, 40, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), b"0123456789abcdef")
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_full_password_queue_answers_503_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.password_hash_concurrency = 1;
        c.password_queue = 0;
    })
    .await
    .with_fixtures()
    .await;
    app.store
        .insert_user(&User {
            name: "slow".into(),
            password_hash: slow_hash("slow-password"),
            roles: vec![],
            scopes: None,
            audiences: None,
            disabled: false,
        })
        .await
        .unwrap();

    // Eight at once: one takes the worker, the others find no room.
    let logins = (0..8).map(|_| app.password_login("slow", "slow-password"));
    let answers = futures_util::future::join_all(logins).await;
    let mut ok = 0;
    let mut busy = 0;
    for res in answers {
        if res.status().as_u16() == 200 {
            ok += 1;
            continue;
        }
        let (headers, body) = expect_oauth_error(res, 503, "temporarily_unavailable").await;
        assert_eq!(headers["retry-after"], "5");
        assert!(!body.contains("slow-password"), "{body}");
        busy += 1;
    }
    assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
    assert!(
        app.metrics()
            .await
            .contains(r#"issuer_login_failures_total{reason="busy"}"#)
    );

    // Once the worker is free, the same login succeeds.
    let res = app.password_login("slow", "slow-password").await;
    assert_eq!(res.status().as_u16(), 200);
}
