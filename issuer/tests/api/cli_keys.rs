//! `issuer keys list|rotate|revoke` against the database of a running
//! issuer, which picks the change up within its 1 s key sync.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::helpers::{expect_oauth_error, kids, spawn_app_with};

fn keys_cmd(db_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_issuer"))
        .arg("keys")
        .args(args)
        .env("ISSUER_DATABASE_URL", db_url)
        .env("ISSUER_KEK", shared::b64::encode(crate::helpers::KEK))
        .env("ISSUER_JWKS_MAX_AGE", "2")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn cli_rotates_and_revokes_and_the_server_follows() {
    let app = spawn_app_with(|c| c.jwks_max_age = Duration::from_secs(2))
        .await
        .with_fixtures()
        .await;
    let db_url = app.database_url.clone();
    let set = app.state.keys.current();
    let active = set.active().kid().to_owned();
    let (_, refresh) = app.login_tokens().await;

    let out = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        move || keys_cmd(&db_url, &["list"])
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let listing = text(&out.stdout);
    assert!(listing.starts_with("KID"), "{listing}");
    assert!(listing.contains("CREATED") && listing.contains("SIGNED"));
    assert!(listing.contains(&active) && listing.contains("pending"));

    // A planned rotation; a second one while it is under way is refused.
    let (first, second) = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        move || {
            (
                keys_cmd(&db_url, &["rotate"]),
                keys_cmd(&db_url, &["rotate"]),
            )
        }
    })
    .await
    .unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let said = text(&first.stdout);
    assert!(
        said.contains("activating") && said.contains("new pending key"),
        "{said}"
    );
    assert!(said.contains(&format!("retiring {active}")), "{said}");
    assert!(!second.status.success());
    assert!(text(&second.stderr).contains("already under way"));

    // Emergency revocation of the active key.
    let (revoked, unknown) = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        let active = active.clone();
        move || {
            (
                keys_cmd(&db_url, &["revoke", &active]),
                keys_cmd(&db_url, &["revoke", "no-such-kid"]),
            )
        }
    })
    .await
    .unwrap();
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let said = text(&revoked.stdout);
    assert!(said.contains(&format!("revoked {active}")), "{said}");
    assert!(
        said.contains("1 refresh-token session(s) revoked"),
        "{said}"
    );
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no signing key"));

    // The server drops the key within its key sync (1 s).
    let started = Instant::now();
    while kids(&app.jwks().await).contains(&active) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "server never reloaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (fresh, _) = app.login_tokens().await;
    assert_ne!(
        jsonwebtoken::decode_header(&fresh).unwrap().kid.unwrap(),
        active
    );
    expect_oauth_error(app.refresh(&refresh, &[]).await, 400, "invalid_grant").await;
    let events = app.store.audit_kinds(10_000).await.unwrap();
    assert!(events.iter().any(|(k, _)| k == "key_rotated"));
    assert!(events.iter().any(|(k, _)| k == "key_revoked"));
}
