//! Rotating refresh tokens: rotation, reuse detection, the grace window,
//! concurrency, lifetimes, client binding and bad input.

use std::time::Duration;

use testkit::internals::ManualClock;

use crate::helpers::{
    TestApp, expect_oauth_error, spawn_app, spawn_app_with, spawn_app_with_clock, spawn_with,
};

async fn kinds(app: &TestApp) -> Vec<String> {
    app.store
        .audit_kinds(50)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

async fn refused(app: &TestApp, token: &str) {
    expect_oauth_error(app.refresh(token, &[]).await, 400, "invalid_grant").await;
}

#[tokio::test]
async fn password_login_returns_a_refresh_token_and_client_credentials_does_not() {
    let app = spawn_app().await.with_fixtures().await;
    let (_, refresh) = app.login_tokens().await;
    assert_eq!(refresh.len(), 43, "256 bits, base64url");
    assert!(shared::b64::decode(&refresh).is_ok());

    let res = app
        .post_token_web(&[("grant_type", "client_credentials")])
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none(), "{body}");
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_refused() {
    let app = spawn_app().await.with_fixtures().await;
    let (_, first) = app.login_tokens().await;
    let res = app.refresh(&first, &[]).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: serde_json::Value = res.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let claims = app.verify(access, "orders").await;
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.scope, "items:read items:write");
    assert_eq!(claims.roles, Some(vec!["admin".to_owned()]));

    let (_, third) = app.refresh_ok(&second).await;
    assert_ne!(third, second);
    // The family records its last use (trigger of migration 0003).
    let newest = testkit::internals::hash_token(&third);
    let row = app.store.find_refresh(&newest).await.unwrap().unwrap();
    assert_eq!(row.family.last_used_ms, row.issued_ms);
    assert!(row.family.last_used_ms >= row.family.created_ms);
    assert!(kinds(&app).await.contains(&"refresh_rotated".to_owned()));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("issuer_refresh_rotations_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn reuse_of_a_rotated_token_revokes_the_family() {
    let app = spawn_app().await.with_fixtures().await;
    let (_, first) = app.login_tokens().await;
    let (_, second) = app.refresh_ok(&first).await;
    let (_, third) = app.refresh_ok(&second).await;
    // An attacker (or a confused client) presents the first token again.
    refused(&app, &first).await;
    assert!(
        kinds(&app)
            .await
            .contains(&"refresh_reuse_detected".to_owned())
    );
    // The whole family is dead, the newest token included.
    refused(&app, &third).await;
    // Another login is a new family and works.
    let (_, other) = app.login_tokens().await;
    app.refresh_ok(&other).await;
}

#[tokio::test]
async fn grace_window_returns_the_same_successor_then_closes() {
    let clock = ManualClock::now();
    let app = spawn_app_with_clock(clock.clock(), |c| c.refresh.grace = Duration::from_secs(1))
        .await
        .with_fixtures()
        .await;
    let (_, first) = app.login_tokens().await;
    let (access_a, second) = app.refresh_ok(&first).await;
    // The response was "lost": the client retries with the first token.
    let (access_b, again) = app.refresh_ok(&first).await;
    assert_eq!(again, second, "same successor within the grace window");
    assert_ne!(access_a, access_b, "a fresh access token");
    assert!(
        kinds(&app)
            .await
            .contains(&"refresh_grace_retry".to_owned())
    );

    clock.advance(Duration::from_millis(1200));
    // After the window the retry is reuse: the family is revoked.
    refused(&app, &first).await;
    refused(&app, &second).await;
}

#[tokio::test]
async fn grace_does_not_cover_an_older_ancestor() {
    let app = spawn_app_with(|c| c.refresh.grace = Duration::from_secs(30))
        .await
        .with_fixtures()
        .await;
    let (_, first) = app.login_tokens().await;
    let (_, second) = app.refresh_ok(&first).await;
    let (_, third) = app.refresh_ok(&second).await;
    // first's successor (second) is no longer the newest token: reuse.
    refused(&app, &first).await;
    refused(&app, &third).await;
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_yield_exactly_one_successor() {
    let app = spawn_app().await.with_fixtures().await;
    let (_, token) = app.login_tokens().await;
    let attempts = (0..20).map(|_| app.refresh(&token, &[]));
    let responses = futures_util::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for res in responses {
        match res.status().as_u16() {
            200 => {
                let body: serde_json::Value = res.json().await.unwrap();
                winners.push(body["refresh_token"].as_str().unwrap().to_owned());
            }
            _ => {
                expect_oauth_error(res, 400, "invalid_grant").await;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh succeeds");
    let parent = testkit::internals::hash_token(&token);
    assert_eq!(app.store.refresh_children(&parent).await.unwrap(), 1);
    let row = app.store.find_refresh(&parent).await.unwrap().unwrap();
    assert_eq!(
        row.successor.as_deref(),
        Some(testkit::internals::hash_token(&winners[0]).as_str())
    );
    // A loser that read the token before the winner committed only lost a
    // race; one that read it afterwards presented a rotated token, which is
    // reuse and revokes the family. Either way the state is consistent.
    let reused = kinds(&app)
        .await
        .contains(&"refresh_reuse_detected".to_owned());
    let status = app.refresh(&winners[0], &[]).await.status().as_u16();
    assert_eq!(status, if reused { 400 } else { 200 });
}

#[tokio::test]
async fn concurrent_refreshes_within_grace_all_get_the_same_successor() {
    let app = spawn_app_with(|c| c.refresh.grace = Duration::from_secs(30))
        .await
        .with_fixtures()
        .await;
    let (_, token) = app.login_tokens().await;
    let responses = futures_util::future::join_all((0..10).map(|_| app.refresh(&token, &[]))).await;
    let mut successors = Vec::new();
    for res in responses {
        assert_eq!(res.status().as_u16(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        successors.push(body["refresh_token"].as_str().unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1);
    let parent = testkit::internals::hash_token(&token);
    assert_eq!(app.store.refresh_children(&parent).await.unwrap(), 1);
}

#[tokio::test]
async fn idle_lifetime_expires_unused_tokens() {
    let clock = ManualClock::now();
    let app = spawn_app_with_clock(clock.clock(), |c| {
        c.refresh.idle_ttl = Duration::from_secs(1)
    })
    .await
    .with_fixtures()
    .await;
    let (_, first) = app.login_tokens().await;
    // Used within the idle lifetime it keeps working.
    clock.advance(Duration::from_millis(500));
    let (_, second) = app.refresh_ok(&first).await;
    clock.advance(Duration::from_millis(1200));
    refused(&app, &second).await;
}

#[tokio::test]
async fn absolute_lifetime_ends_the_family_however_it_is_used() {
    let clock = ManualClock::now();
    let app = spawn_app_with_clock(clock.clock(), |c| {
        c.refresh.absolute_ttl = Duration::from_secs(2)
    })
    .await
    .with_fixtures()
    .await;
    let (_, mut token) = app.login_tokens().await;
    for _ in 0..3 {
        clock.advance(Duration::from_millis(500));
        token = app.refresh_ok(&token).await.1;
    }
    clock.advance(Duration::from_millis(800));
    refused(&app, &token).await;
}

#[tokio::test]
async fn scope_may_be_narrowed_never_widened() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app
        .post_token_web(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("scope", "items:read"),
        ])
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["refresh_token"].as_str().unwrap();
    // items:write is allowed to the client but was not granted at login.
    expect_oauth_error(
        app.refresh(token, &[("scope", "items:read items:write")])
            .await,
        400,
        "invalid_scope",
    )
    .await;
    let res = app.refresh(token, &[("scope", "items:read")]).await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), "orders")
        .await;
    assert_eq!(claims.scope, "items:read");

    // Narrowing the access token keeps the refresh token's own scope.
    let (_, full) = app.login_tokens().await;
    let res = app.refresh(&full, &[("scope", "items:read")]).await;
    let body: serde_json::Value = res.json().await.unwrap();
    let next = body["refresh_token"].as_str().unwrap();
    let res = app.refresh(next, &[]).await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "items:read items:write");
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_their_client() {
    let app = spawn_app().await.with_fixtures().await;
    app.add_client(
        "other",
        Some("other-secret-0123456789"),
        &["items:read"],
        &["orders"],
    )
    .await;
    let (_, token) = app.login_tokens().await;
    let res = app
        .post_token_basic(
            "other",
            "other-secret-0123456789",
            &[("grant_type", "refresh_token"), ("refresh_token", &token)],
        )
        .await;
    expect_oauth_error(res, 400, "invalid_grant").await;
    // The rightful client still can.
    app.refresh_ok(&token).await;
    // A refresh needs client authentication.
    let res = app
        .post_token(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
        .await;
    expect_oauth_error(res, 401, "invalid_client").await;
}

#[tokio::test]
async fn bad_refresh_tokens_get_rfc6749_errors() {
    let app = spawn_app().await.with_fixtures().await;
    // Missing.
    let res = app.post_token_web(&[("grant_type", "refresh_token")]).await;
    expect_oauth_error(res, 400, "invalid_request").await;
    // Empty counts as missing.
    expect_oauth_error(app.refresh("", &[]).await, 400, "invalid_request").await;
    // Oversized.
    let long = "A".repeat(1025);
    expect_oauth_error(app.refresh(&long, &[]).await, 400, "invalid_request").await;
    // Malformed, unknown, or shaped like ours but never issued.
    for token in ["not a token", "A", "%00", &"x".repeat(43), &"é".repeat(20)] {
        expect_oauth_error(app.refresh(token, &[]).await, 400, "invalid_grant").await;
    }
    // A real token with one character changed.
    let (access, token) = app.login_tokens().await;
    let mut changed = token.into_bytes();
    changed[10] = if changed[10] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).unwrap();
    refused(&app, &changed).await;
    // An access token is not a refresh token.
    refused(&app, &access).await;
}

#[tokio::test]
async fn a_disabled_or_deleted_user_cannot_refresh() {
    let app = spawn_app().await.with_fixtures().await;
    let (_, token) = app.login_tokens().await;
    assert!(app.store.set_user_disabled("alice", true).await.unwrap());
    refused(&app, &token).await;
    // Re-enabling does not bring the session back: it was revoked.
    assert!(app.store.set_user_disabled("alice", false).await.unwrap());
    refused(&app, &token).await;
    assert!(
        kinds(&app)
            .await
            .contains(&"refresh_user_inactive".to_owned())
    );

    let (_, token) = app.login_tokens().await;
    assert!(app.store.delete_user("alice").await.unwrap());
    refused(&app, &token).await;
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn_with(dir.path(), None, |_| {})
        .await
        .with_fixtures()
        .await;
    let (_, a) = first.login_tokens().await;
    let (_, b) = first.login_tokens().await;
    let (_, b) = first.refresh_ok(&b).await;
    first.stop().await;

    let second = spawn_with(dir.path(), None, |_| {}).await;
    second.refresh_ok(&a).await;
    second.refresh_ok(&b).await;
    second.stop().await;
}

/// The `issuer_refresh` cookie value and attributes of a response.
fn refresh_cookie(res: &reqwest::Response) -> (String, String) {
    let header = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let value = header
        .strip_prefix("issuer_refresh=")
        .and_then(|rest| rest.split(';').next())
        .unwrap()
        .to_owned();
    (value, header)
}

#[tokio::test]
async fn cookie_mode_keeps_the_refresh_token_out_of_the_body() {
    let app = spawn_app_with(|c| c.refresh.cookie = true)
        .await
        .with_fixtures()
        .await;
    let res = app.password_login("alice", "correct horse battery").await;
    assert_eq!(res.status().as_u16(), 200);
    let (first, header) = refresh_cookie(&res);
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/oauth2"] {
        assert!(header.contains(attribute), "{header}");
    }
    assert_eq!(first.len(), 43);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");

    let url = format!("{}/oauth2/token", app.address);
    let cookie_refresh = |token: &str, csrf: bool| {
        let mut req = app
            .http
            .post(&url)
            .basic_auth("web", Some("web-secret-0123456789"))
            .header("cookie", format!("theme=dark; issuer_refresh={token}"))
            .form(&[("grant_type", "refresh_token")]);
        if csrf {
            req = req.header("x-requested-with", "fetch");
        }
        req.send()
    };
    // Without the CSRF header the cookie is not used.
    let res = cookie_refresh(&first, false).await.unwrap();
    expect_oauth_error(res, 400, "invalid_request").await;

    let res = cookie_refresh(&first, true).await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let (second, _) = refresh_cookie(&res);
    assert_ne!(second, first);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none(), "{body}");

    // Logout through the cookie clears it and ends the family.
    let res = app
        .http
        .post(format!("{}/oauth2/revoke", app.address))
        .basic_auth("web", Some("web-secret-0123456789"))
        .header("cookie", format!("issuer_refresh={second}"))
        .header("x-requested-with", "fetch")
        .form(&[("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let (cleared, header) = refresh_cookie(&res);
    assert!(
        cleared.is_empty() && header.contains("Max-Age=0"),
        "{header}"
    );
    let res = cookie_refresh(&second, true).await.unwrap();
    expect_oauth_error(res, 400, "invalid_grant").await;
}

/// Opt-in: with `ISSUER_TEST_POSTGRES_URL=postgres://user@host:port` (a
/// server where this test may create a database) the rotation, reuse
/// detection and concurrency checks also run on PostgreSQL.
#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/with-postgres.sh"]
async fn postgres_rotation_is_atomic_too() {
    use sqlx::migrate::MigrateDatabase as _;
    let Ok(base) = std::env::var("ISSUER_TEST_POSTGRES_URL") else {
        panic!("needs PostgreSQL: ISSUER_TEST_POSTGRES_URL is not set");
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let url = format!(
        "{}/issuer_test_{}_{nanos}",
        base.trim_end_matches('/'),
        std::process::id()
    );
    sqlx::any::install_default_drivers();
    sqlx::Any::create_database(&url).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_with(dir.path(), None, |c| c.database_url = url.clone())
        .await
        .with_fixtures()
        .await;

    let (_, token) = app.login_tokens().await;
    let responses = futures_util::future::join_all((0..20).map(|_| app.refresh(&token, &[]))).await;
    let mut winners = 0;
    for res in responses {
        match res.status().as_u16() {
            200 => winners += 1,
            _ => {
                expect_oauth_error(res, 400, "invalid_grant").await;
            }
        }
    }
    assert_eq!(winners, 1);
    let parent = testkit::internals::hash_token(&token);
    assert_eq!(app.store.refresh_children(&parent).await.unwrap(), 1);

    let (_, first) = app.login_tokens().await;
    let (_, second) = app.refresh_ok(&first).await;
    let row = app
        .store
        .find_refresh(&testkit::internals::hash_token(&second))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.family.last_used_ms, row.issued_ms);
    refused(&app, &first).await;
    refused(&app, &second).await;
    assert!(
        kinds(&app)
            .await
            .contains(&"refresh_reuse_detected".to_owned())
    );
    let sessions = app.store.list_families(Some("alice")).await.unwrap();
    assert_eq!(sessions.len(), 2);
    app.stop().await;
    let _ = sqlx::Any::drop_database(&url).await;
}

#[tokio::test]
async fn the_successor_is_kept_sealed_and_only_for_the_grace_window() {
    let app = spawn_app_with(|c| c.refresh.grace = Duration::from_secs(30))
        .await
        .with_fixtures()
        .await;
    let (_, first) = app.login_tokens().await;
    let (_, second) = app.refresh_ok(&first).await;
    let parent = testkit::internals::hash_token(&first);
    let row = app.store.find_refresh(&parent).await.unwrap().unwrap();
    let sealed = row.successor_sealed.expect("sealed while in the window");
    assert!(
        !sealed.windows(second.len()).any(|w| w == second.as_bytes()),
        "never in plaintext"
    );
    // The periodic purge (argument: now - grace) keeps it inside the
    // window and drops it once the window is over...
    let now = testkit::internals::now_ms();
    let purge = |before| app.store.purge_sealed_successors(before);
    assert_eq!(purge(now - 30_000).await.unwrap(), 0, "inside the window");
    assert_eq!(purge(now + 1).await.unwrap(), 1);
    let row = app.store.find_refresh(&parent).await.unwrap().unwrap();
    assert!(row.successor_sealed.is_none());
    // ...after which a retry cannot be answered: it is treated as reuse.
    refused(&app, &first).await;
    refused(&app, &second).await;
}
