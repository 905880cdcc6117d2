//! `issuer keys list|rotate|revoke` against the database of a running
//! issuer, which picks the change up within its 1 s key sync.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::helpers::{expect_oauth_error, kids, spawn_app_with, spawn_with};

/// Timing variables a shell might have set; each command starts without them.
const TIMING_VARS: [&str; 6] = [
    "ISSUER_JWKS_MAX_AGE",
    "ISSUER_ACCESS_TOKEN_TTL",
    "ISSUER_KEY_MARGIN",
    "ISSUER_KEY_PREPUBLISH",
    "ISSUER_KEY_RETIRE_DELAY",
    "ISSUER_KEY_ROTATION_PERIOD",
];

/// `issuer keys ARGS` on `db_url` with only `env` of the timing variables
/// set: the server's timings come from the store, not from here.
fn keys_cmd_env(db_url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_issuer"));
    cmd.arg("keys").args(args);
    for var in TIMING_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .env("ISSUER_DATABASE_URL", db_url)
        .env("ISSUER_KEK", shared::b64::encode(crate::helpers::KEK))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn keys_cmd(db_url: &str, args: &[&str]) -> Output {
    keys_cmd_env(db_url, args, &[])
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
    assert!(listing.contains("CREATED") && listing.contains("SIGNED*"));
    assert!(listing.contains(&active) && listing.contains("pending"));
    // Created and activated (no retirement yet) for the active and the pending key.
    assert_eq!(crate::cli::rfc3339_times(&listing), 4, "{listing}");
    let notes = text(&out.stderr);
    assert!(
        notes.contains("* SIGNED: each issuer adds its count once a minute"),
        "{notes}"
    );

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

/// Runs `issuer keys ARGS` with `env` off the async threads.
async fn keys_async(db_url: &str, args: &[&str], env: &[(&'static str, &'static str)]) -> Output {
    let db_url = db_url.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let env = env.to_vec();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        keys_cmd_env(&db_url, &args, &env)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn cli_rotation_uses_the_timings_the_servers_recorded() {
    // The server: JWKS max-age 2 s, margin 1 s, so a pending key is
    // published 2 x 2 + 1 = 5 s before it signs. The shell sets none of
    // that (its defaults would give 2 x 300 + 60 = 660 s).
    let dir = tempfile::tempdir().unwrap();
    let short = |c: &mut issuer::config::Config| {
        c.jwks_max_age = Duration::from_secs(2);
        c.key_margin = Duration::from_secs(1);
    };
    let app = spawn_with(dir.path(), None, short).await;
    let db_url = app.database_url.clone();
    let pending_before = |keys: &[issuer::store::StoredKey]| {
        keys.iter()
            .find(|k| k.state == issuer::store::KeyState::Pending)
            .cloned()
            .unwrap()
    };
    let pending = pending_before(&app.store.list_keys().await.unwrap());

    // A shell whose setting needs longer timings is refused by name, and
    // nothing changes.
    let refused = keys_async(&db_url, &["rotate"], &[("ISSUER_ACCESS_TOKEN_TTL", "1h")]).await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("ISSUER_ACCESS_TOKEN_TTL: 3600s here needs a retirement delay"),
        "{said}"
    );
    let refused = keys_async(
        &db_url,
        &["revoke", &pending.kid],
        &[("ISSUER_JWKS_MAX_AGE", "300")],
    )
    .await;
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("ISSUER_JWKS_MAX_AGE: 300s here needs a pre-publication lead"),
        "{said}"
    );
    assert_eq!(
        pending_before(&app.store.list_keys().await.unwrap()),
        pending
    );

    // Settings equal to or shorter than the stored ones are fine; the
    // rotation is scheduled with the server's 5 s lead.
    let listed = keys_async(&db_url, &["list"], &[]).await;
    assert!(
        text(&listed.stderr)
            .contains("recorded by the issuers on this database): pre-publication lead 5 s"),
        "{}",
        text(&listed.stderr)
    );
    let rotated = keys_async(&db_url, &["rotate"], &[("ISSUER_JWKS_MAX_AGE", "1")]).await;
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let after = app.store.list_keys().await.unwrap();
    let activating = after.iter().find(|k| k.kid == pending.kid).unwrap();
    let now = shared::now_unix();
    assert!(
        activating.activate_at <= (pending.created_at + 5).max(now),
        "activates at {} (created {}, now {now})",
        activating.activate_at,
        pending.created_at
    );

    // A second instance with a 30 s max-age on the same database: the
    // timings in force are the larger ones (2 x 30 + 1 = 61 s), for the
    // CLI and for both servers.
    let other = spawn_with(dir.path(), None, |c| {
        short(c);
        c.jwks_max_age = Duration::from_secs(30);
    })
    .await;
    let listed = keys_async(&db_url, &["list"], &[]).await;
    let said = text(&listed.stderr);
    assert!(said.contains("pre-publication lead 61 s"), "{said}");
    assert!(said.contains("JWKS max-age 30 s"), "{said}");
    let refused = keys_async(&db_url, &["rotate"], &[("ISSUER_JWKS_MAX_AGE", "31")]).await;
    assert!(
        text(&refused.stderr).contains("ISSUER_JWKS_MAX_AGE: 31s"),
        "{}",
        text(&refused.stderr)
    );
    for server in [&app, &other] {
        let settings = server.state.keys.settings_at(now).await.unwrap();
        assert_eq!(settings.prepublish, Duration::from_secs(61));
    }
}
