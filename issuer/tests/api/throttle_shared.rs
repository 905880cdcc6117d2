//! Login throttling shared by two issuer instances on one database: the
//! counts live in the store, so spreading failures over both instances
//! does not double the allowance.

use std::time::Duration;

use testkit::internals::{Clock, Config, ManualClock};

use crate::helpers::{TestApp, expect_oauth_error, spawn_with_clock};

const PASSWORD: &str = "correct horse battery";
const WRONG: &str = "wrong-password-not-to-be-echoed";

/// Two issuers (each its own pool and state) on the database of one
/// temporary directory, with the fixtures (alice, client web).
async fn two_instances(tweak: impl Fn(&mut Config)) -> (TestApp, TestApp) {
    two_instances_on(Clock::system(), tweak).await
}

/// [`two_instances`] sharing `clock`.
async fn two_instances_on(clock: Clock, tweak: impl Fn(&mut Config)) -> (TestApp, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let mut a = spawn_with_clock(dir.path(), None, clock.clone(), &tweak)
        .await
        .with_fixtures()
        .await;
    let b = spawn_with_clock(dir.path(), None, clock, &tweak).await;
    a.dir = Some(dir);
    (a, b)
}

fn limits(user: u32, ip: u32, window: Duration) -> impl Fn(&mut Config) {
    move |c: &mut Config| {
        c.throttle.max_failures_per_user = user;
        c.throttle.max_failures_per_ip = ip;
        c.throttle.window = window;
    }
}

async fn fails(app: &TestApp, user: &str) {
    let res = app.password_login(user, WRONG).await;
    expect_oauth_error(res, 400, "invalid_grant").await;
}

/// Asserts a 429 and returns its `Retry-After` in seconds.
async fn throttled(app: &TestApp, user: &str) -> u64 {
    let res = app.password_login(user, PASSWORD).await;
    let (headers, body) = expect_oauth_error(res, 429, "temporarily_unavailable").await;
    assert!(!body.contains(WRONG) && !body.contains(PASSWORD), "{body}");
    headers["retry-after"].to_str().unwrap().parse().unwrap()
}

async fn logs_in(app: &TestApp) {
    let res = app.password_login("alice", PASSWORD).await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn failures_spread_over_two_instances_hit_one_user_limit() {
    let (a, b) = two_instances(limits(4, 100, Duration::from_secs(300))).await;
    fails(&a, "alice").await;
    fails(&b, "alice").await;
    fails(&a, "alice").await;
    // Three failures: each instance alone has seen at most two, and the
    // limit is not reached yet.
    logs_in(&b).await;
    for app in [&a, &b, &a, &b] {
        fails(app, "alice").await;
    }
    // Four failures since the success: both refuse even the right password.
    let wait_a = throttled(&a, "alice").await;
    let wait_b = throttled(&b, "alice").await;
    // Until the oldest of the four leaves the 300 s window.
    assert!((280..=300).contains(&wait_a), "{wait_a}");
    assert!((280..=300).contains(&wait_b), "{wait_b}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn unknown_users_count_against_the_shared_address_limit() {
    let (a, b) = two_instances(limits(100, 3, Duration::from_secs(300))).await;
    fails(&a, "nobody-1").await;
    fails(&b, "nobody-2").await;
    logs_in(&a).await;
    fails(&a, "nobody-3").await;
    // Three failures from 127.0.0.1 across both instances: the address is
    // throttled on both, whoever logs in (alice has no failures of her own).
    throttled(&b, "alice").await;
    throttled(&a, "alice").await;
    throttled(&a, "nobody-4").await;
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_success_on_one_instance_clears_the_user_for_both_but_not_the_address() {
    let (a, b) = two_instances(limits(3, 5, Duration::from_secs(300))).await;
    fails(&a, "alice").await;
    fails(&b, "alice").await;
    logs_in(&b).await;
    // Cleared by the success on b: two more failures on a stay under 3.
    fails(&a, "alice").await;
    fails(&a, "alice").await;
    logs_in(&a).await;
    // The address kept all four failures; a fifth reaches its limit.
    fails(&b, "bob").await;
    throttled(&a, "alice").await;
    throttled(&b, "alice").await;
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn the_window_expires_on_both_instances_and_expired_rows_are_purged() {
    let window = Duration::from_secs(2);
    let clock = ManualClock::now();
    let (a, b) = two_instances_on(clock.clock(), limits(2, 100, window)).await;
    let first = clock.now_ms();
    fails(&a, "alice").await;
    fails(&b, "alice").await;
    let second = clock.now_ms();
    let wait = throttled(&b, "alice").await;
    assert!((1..=2).contains(&wait), "{wait}");
    throttled(&a, "alice").await;
    // The first failure leaves the window two seconds after it was
    // recorded; then both instances accept alice again.
    clock.advance(window);
    let status = a.password_login("alice", PASSWORD).await.status().as_u16();
    assert_eq!(status, 200);
    let window_ms = i64::try_from(window.as_millis()).unwrap();
    assert!(clock.now_ms() - first >= window_ms - 100);
    logs_in(&b).await;
    // The success deleted alice's rows; the address's two rows are left
    // for the periodic purge, which takes them once the second is expired
    // too (the first may have expired well before it).
    let purge_at = second + window_ms + 50;
    clock.advance(Duration::from_millis(
        u64::try_from(purge_at - clock.now_ms()).unwrap_or(0),
    ));
    assert_eq!(b.state.throttle.purge().await.unwrap(), 2);
    assert_eq!(a.state.throttle.purge().await.unwrap(), 0);
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_throttle_store_failure_fails_closed_with_503() {
    let (a, b) = two_instances(limits(5, 20, Duration::from_secs(300))).await;
    logs_in(&b).await;
    // Break the counters (not the connection) from outside both instances:
    // the error is not an outage, yet the login must not be answered 500,
    // nor proceed uncounted.
    let db = sqlx::AnyPool::connect(&a.database_url).await.unwrap();
    sqlx::query("DROP TABLE login_failures")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    for app in [&a, &b] {
        for password in [PASSWORD, WRONG] {
            let res = app.password_login("alice", password).await;
            let (headers, body) = expect_oauth_error(res, 503, "temporarily_unavailable").await;
            assert!(headers.contains_key("retry-after"));
            assert!(!body.contains("login_failures"), "{body}");
        }
    }
    b.stop().await;
    a.stop().await;
}
