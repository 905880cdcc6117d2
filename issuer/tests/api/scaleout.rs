//! Two `issuer serve` processes on one database, as behind a load
//! balancer: keys, rotations and refresh-token families are shared, one
//! refresh token is spent exactly once whichever instance it reaches, and a
//! SIGKILL in the middle of a refresh or a key rotation loses nothing.
//! Runs on SQLite (one file) and, in the CI pass, on PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use shared::admin::RotateResponse;
use testkit::internals::KeyState;

use crate::helpers::{kid_of, kids, postgres_url, test_database_url, verify_with_jwks};
use crate::procs::{self, ISSUER_URL, Instance, admin_token, login, refresh};

async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "GET {url}");
    res.json().await.unwrap()
}

/// Polls `check` every 100 ms until it holds or `limit` has passed;
/// returns how long it took.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    start.elapsed()
}

async fn two_instances(db_url: &str, extra: &[(&str, &str)]) -> (Instance, Instance) {
    tokio::join!(procs::start(db_url, extra), procs::start(db_url, extra))
}

/// A separate connection pool on the test database, for checks no API
/// exposes (the invariants of the refresh-token tables).
async fn raw_pool(db_url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(db_url)
        .await
        .unwrap()
}

async fn count(pool: &sqlx::AnyPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The refresh-token tables are consistent: every recorded successor
/// exists, no token has two successors, no successor lacks its parent's
/// claim, and no family was revoked.
async fn assert_refresh_consistent(pool: &sqlx::AnyPool) {
    let dangling = count(
        pool,
        "SELECT COUNT(*) FROM refresh_tokens p WHERE p.successor IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.hash = p.successor)",
    )
    .await;
    assert_eq!(
        dangling, 0,
        "a claimed token names a successor that is missing"
    );
    let forked = count(
        pool,
        "SELECT COUNT(*) FROM (SELECT parent FROM refresh_tokens WHERE parent IS NOT NULL \
         GROUP BY parent HAVING COUNT(*) > 1) x",
    )
    .await;
    assert_eq!(forked, 0, "a token was rotated twice");
    let orphans = count(
        pool,
        "SELECT COUNT(*) FROM refresh_tokens c JOIN refresh_tokens p ON p.hash = c.parent \
         WHERE p.successor IS NULL OR p.successor <> c.hash",
    )
    .await;
    assert_eq!(
        orphans, 0,
        "a successor exists whose parent was not claimed"
    );
    let revoked = count(
        pool,
        "SELECT COUNT(*) FROM refresh_families WHERE revoked_ms IS NOT NULL",
    )
    .await;
    assert_eq!(revoked, 0, "no session may be revoked by a crash");
}

#[tokio::test]
async fn two_instances_share_keys_rotations_and_refresh_families() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = test_database_url(dir.path());
    let store = procs::seed(&db_url).await;
    let (a, b) = two_instances(&db_url, &[]).await;
    let http = procs::http();

    // Tokens from either instance verify with one JWKS document fetched from
    // either.
    let (token_a, _) = login(&http, &a.url).await;
    let (token_b, _) = login(&http, &b.url).await;
    let jwks = get_json(&http, &format!("{}/.well-known/jwks.json", b.url)).await;
    for token in [&token_a, &token_b] {
        let claims = verify_with_jwks(token, &jwks, ISSUER_URL, "orders");
        assert_eq!(claims.sub, "alice");
    }
    let jwks_a = get_json(&http, &format!("{}/.well-known/jwks.json", a.url)).await;
    assert_eq!(jwks, jwks_a, "both instances publish the same key set");

    // A rotation asked of A is served by B: the new pending key at once
    // (within a key sync), then the rotated-in key signs B's tokens too.
    let res = http
        .post(format!("{}/admin/keys/rotate", a.url))
        .bearer_auth(admin_token(&http, &a.url).await)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let rotation: RotateResponse = res.json().await.unwrap();
    let took = eventually(
        Duration::from_secs(5),
        "B publishes the new key",
        || async {
            kids(&get_json(&http, &format!("{}/.well-known/jwks.json", b.url)).await)
                .contains(&rotation.pending_kid)
        },
    )
    .await;
    eprintln!("B published A's new pending key after {took:?}");
    eventually(
        Duration::from_secs(20),
        "B signs with the rotated-in key",
        || async {
            let (token, _) = login(&http, &b.url).await;
            kid_of(&token) == rotation.active_kid
        },
    )
    .await;

    // One refresh token presented to both at once is spent exactly once.
    for _ in 0..8 {
        let (_, refresh_token) = login(&http, &a.url).await;
        let (ra, rb) = tokio::join!(
            refresh(&http, &a.url, &refresh_token),
            refresh(&http, &b.url, &refresh_token)
        );
        let mut statuses = [ra.unwrap().0, rb.unwrap().0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400], "exactly one instance rotates it");
        let hash = testkit::internals::hash_token(&refresh_token);
        assert_eq!(store.refresh_children(&hash).await.unwrap(), 1);
    }

    // Reuse detected on B revokes the family for A too.
    let (_, first) = login(&http, &a.url).await;
    let (status, second) = refresh(&http, &a.url, &first).await.unwrap();
    assert_eq!(status, 200);
    let second = second.unwrap();
    assert_eq!(
        refresh(&http, &b.url, &first).await.unwrap().0,
        400,
        "reuse"
    );
    assert_eq!(
        refresh(&http, &a.url, &second).await.unwrap().0,
        400,
        "the family is revoked on A as well"
    );
    let family = store
        .find_refresh(&testkit::internals::hash_token(&second))
        .await
        .unwrap()
        .unwrap()
        .family;
    assert_eq!(family.revoked_reason.as_deref(), Some("reuse detected"));
    store.close().await;
}

/// Sessions refreshing against A when A is killed: each continues on B with
/// the last refresh token it received. A refresh A committed but could not
/// answer is retried within the grace window and gets the same successor.
#[tokio::test]
async fn sigkill_during_refresh_load_loses_no_session() {
    const SESSIONS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let db_url = test_database_url(dir.path());
    let store = procs::seed(&db_url).await;
    let extra = [("ISSUER_REFRESH_GRACE", "30s")];
    let (mut a, b) = two_instances(&db_url, &extra).await;
    let http = procs::http();

    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(login(&http, &b.url).await.1);
    }
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for mut current in sessions {
        let (http, url, done) = (http.clone(), a.url.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                match refresh(&http, &url, &current).await {
                    Ok((200, Some(next))) => {
                        current = next;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok((status, _)) => panic!("refresh answered {status} before the kill"),
                    // A is gone: the connection was refused or cut.
                    Err(_) => break,
                }
            }
            current
        }));
    }
    eventually(Duration::from_secs(20), "refreshes under way", || async {
        done.load(Ordering::Relaxed) >= 40
    })
    .await;
    a.sigkill();
    let mut last = Vec::new();
    for task in tasks {
        last.push(task.await.unwrap());
    }
    eprintln!(
        "{} refreshes answered before SIGKILL",
        done.load(Ordering::Relaxed)
    );

    // Every session goes on at B from the last token it was given.
    for token in &last {
        let (status, next) = refresh(&http, &b.url, token).await.unwrap();
        assert_eq!(status, 200, "the session survived the crash");
        let (status, _) = refresh(&http, &b.url, &next.unwrap()).await.unwrap();
        assert_eq!(status, 200, "and keeps rotating");
    }
    let pool = raw_pool(&db_url).await;
    assert_refresh_consistent(&pool).await;
    pool.close().await;
    store.close().await;
}

/// How many sessions of the test database wait for a lock inside a
/// transaction that has already written (a transaction id is assigned at
/// the first write).
async fn waiting_writers(pool: &sqlx::AnyPool) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// PostgreSQL only: a SIGKILL while a refresh and a key rotation are inside
/// their transactions, after their first writes and before the commit
/// (held there by a lock the test takes: the family row, which a refresh
/// updates last, and the audit table, which a rotation writes last). The
/// database rolls them back: the refresh token is still unspent and works
/// on another instance, the keys are as before, and rotation works.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/with-postgres.sh"]
async fn sigkill_inside_a_transaction_rolls_it_back() {
    let dir = tempfile::tempdir().unwrap();
    // SQLite is covered by the load test.
    let db_url = postgres_url(dir.path()).await;
    let store = procs::seed(&db_url).await;
    let (mut a, b) = two_instances(&db_url, &[]).await;
    let http = procs::http();
    let pool = raw_pool(&db_url).await;
    let admin = admin_token(&http, &b.url).await;

    // A refresh, killed with its claim of the token written.
    let (_, refresh_token) = login(&http, &b.url).await;
    let family = store
        .find_refresh(&testkit::internals::hash_token(&refresh_token))
        .await
        .unwrap()
        .unwrap()
        .family;
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM refresh_families WHERE id = $1 FOR UPDATE")
        .bind(&family.id)
        .fetch_all(&mut *lock)
        .await
        .unwrap();
    let refreshing = tokio::spawn({
        let (http, url, token) = (http.clone(), a.url.clone(), refresh_token.clone());
        async move { refresh(&http, &url, &token).await }
    });
    eventually(
        Duration::from_secs(15),
        "A's refresh waits inside its transaction",
        || async { waiting_writers(&pool).await == 1 },
    )
    .await;
    a.sigkill();
    lock.rollback().await.unwrap();
    assert!(refreshing.await.unwrap().is_err(), "A never answered");
    let (status, next) = refresh(&http, &b.url, &refresh_token).await.unwrap();
    assert_eq!(
        status, 200,
        "the token A was rotating when killed still works"
    );
    assert_eq!(refresh(&http, &b.url, &next.unwrap()).await.unwrap().0, 200);
    assert_refresh_consistent(&pool).await;

    // A key rotation, killed with the key changes written.
    let mut c = procs::start(&db_url, &[]).await;
    let keys_before = store.key_states().await.unwrap();
    let mut lock = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE audit_events IN EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let rotating = tokio::spawn({
        let (http, url, admin) = (http.clone(), c.url.clone(), admin.clone());
        async move {
            http.post(format!("{url}/admin/keys/rotate"))
                .bearer_auth(admin)
                .send()
                .await
        }
    });
    eventually(
        Duration::from_secs(15),
        "the rotation waits inside its transaction",
        || async { waiting_writers(&pool).await == 1 },
    )
    .await;
    c.sigkill();
    lock.rollback().await.unwrap();
    assert!(
        rotating.await.unwrap().is_err(),
        "the instance never answered"
    );
    assert_eq!(store.key_states().await.unwrap(), keys_before);
    let res = http
        .post(format!("{}/admin/keys/rotate", b.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), keys_before.len() + 1, "exactly one new key");
    assert_eq!(
        keys.iter().filter(|k| k.state == KeyState::Active).count(),
        1
    );
    pool.close().await;
    store.close().await;
}
