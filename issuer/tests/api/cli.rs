//! The `issuer` binary's admin commands against a real server.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::helpers::{spawn_app, spawn_with, verify_with_jwks};

fn issuer_cmd(db_url: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_issuer"))
        .args(args)
        .env("ISSUER_DATABASE_URL", db_url)
        .env("ISSUER_KEK", shared::b64::encode(crate::helpers::KEK))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn cli_users_and_clients_work_against_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = crate::helpers::test_database_url(dir.path());
    crate::helpers::ensure_database(&db_url).await;

    let out = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        move || {
            let user = issuer_cmd(
                &db_url,
                &[
                    "users",
                    "add",
                    "carol",
                    "--role",
                    "admin",
                    "--role",
                    "ops",
                    "--password-stdin",
                ],
                Some("s3cret pass\n"),
            );
            let client = issuer_cmd(
                &db_url,
                &[
                    "clients",
                    "add",
                    "svc",
                    "--scope",
                    "items:read",
                    "--audience",
                    "orders",
                ],
                None,
            );
            let dup = issuer_cmd(
                &db_url,
                &["users", "add", "carol", "--password-stdin"],
                Some("other\n"),
            );
            let keys = issuer_cmd(&db_url, &["keys", "list"], None);
            (user, client, dup, keys)
        }
    })
    .await
    .unwrap();
    let (user, client, dup, keys_before) = out;
    assert!(
        user.status.success(),
        "{}",
        String::from_utf8_lossy(&user.stderr)
    );
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    assert!(keys_before.status.success());
    let secret = String::from_utf8(client.stdout).unwrap().trim().to_owned();
    assert_eq!(
        shared::b64::decode(&secret).unwrap().len(),
        32,
        "256-bit secret"
    );

    let app = spawn_with(dir.path(), None, |_| {}).await;
    // The generated secret works for client_credentials...
    let res = app
        .post_token_basic("svc", &secret, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let jwks = app.jwks().await;
    let claims = verify_with_jwks(
        body["access_token"].as_str().unwrap(),
        &jwks,
        &app.issuer_url,
        "orders",
    );
    assert_eq!(claims.sub, "svc");
    // ...and the CLI-made user logs in through it.
    let res = app
        .post_token_basic(
            "svc",
            &secret,
            &[
                ("grant_type", "password"),
                ("username", "carol"),
                ("password", "s3cret pass"),
            ],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let claims = verify_with_jwks(
        body["access_token"].as_str().unwrap(),
        &jwks,
        &app.issuer_url,
        "orders",
    );
    assert_eq!(claims.sub, "carol");
    assert_eq!(
        claims.roles,
        Some(vec!["admin".to_owned(), "ops".to_owned()])
    );
    app.stop().await;

    let listing = tokio::task::spawn_blocking(move || issuer_cmd(&db_url, &["keys", "list"], None))
        .await
        .unwrap();
    let text = String::from_utf8(listing.stdout).unwrap();
    assert!(
        text.contains("active") && text.contains("pending"),
        "{text}"
    );
    for key in jwks["keys"].as_array().unwrap() {
        assert!(text.contains(key["kid"].as_str().unwrap()), "{text}");
    }
}

#[test]
fn bad_configuration_names_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_issuer"))
        .args(["keys", "list"])
        .env("ISSUER_ACCESS_TOKEN_TTL", "3h")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ISSUER_ACCESS_TOKEN_TTL"));
}

#[tokio::test]
async fn cli_sessions_and_user_disable_revoke_refresh_families() {
    let app = spawn_app().await.with_fixtures().await;
    let db_url = app.database_url.clone();
    let run = |args: &'static [&'static str]| {
        let db_url = db_url.clone();
        tokio::task::spawn_blocking(move || issuer_cmd(&db_url, args, None))
    };
    let (_, one) = app.login_tokens().await;
    let (_, two) = app.login_tokens().await;
    let family_one = app
        .store
        .find_refresh(&testkit::internals::hash_token(&one))
        .await
        .unwrap()
        .unwrap()
        .family
        .id;

    let out = run(&["sessions", "list", "--user", "alice"]).await.unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains(&family_one) && text.contains("web"), "{text}");
    assert_eq!(text.matches("active").count(), 2, "{text}");
    assert_eq!(rfc3339_times(&text), 4, "created and last used: {text}");

    // Revoke one session by its family id.
    let id = family_one.clone();
    let out = tokio::task::spawn_blocking({
        let db_url = db_url.clone();
        move || issuer_cmd(&db_url, &["sessions", "revoke", &id], None)
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = app.refresh(&one, &[]).await;
    crate::helpers::expect_oauth_error(res, 400, "invalid_grant").await;
    let two = app.refresh_ok(&two).await.1;

    // Disabling the user revokes the rest.
    let out = run(&["users", "disable", "alice"]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = app.refresh(&two, &[]).await;
    crate::helpers::expect_oauth_error(res, 400, "invalid_grant").await;
    let res = app.password_login("alice", "correct horse battery").await;
    crate::helpers::expect_oauth_error(res, 400, "invalid_grant").await;
    let out = run(&["sessions", "list"]).await.unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("revoked").count(), 2, "{text}");

    let kinds: Vec<String> = app
        .store
        .audit_kinds(50)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(kinds.contains(&"user_disabled".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"session_revoked".to_owned()), "{kinds:?}");

    // Deleting works the same way; unknown names fail.
    let out = run(&["users", "delete", "alice"]).await.unwrap();
    assert!(out.status.success());
    assert!(app.store.find_user("alice").await.unwrap().is_none());
    let out = run(&["users", "delete", "alice"]).await.unwrap();
    assert!(!out.status.success());
    let out = run(&["sessions", "revoke", "no-such-family"])
        .await
        .unwrap();
    assert!(!out.status.success());
}

/// How many whitespace-separated words of `text` are RFC 3339 UTC times
/// (`2026-11-30T00:00:00Z`), each followed by a relative form in brackets.
pub(crate) fn rfc3339_times(text: &str) -> usize {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| {
            let b = w[0].as_bytes();
            let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
            b.len() == 20
                && digits(0..4)
                && b[4] == b'-'
                && digits(5..7)
                && b[7] == b'-'
                && digits(8..10)
                && b[10] == b'T'
                && digits(11..13)
                && b[13] == b':'
                && digits(14..16)
                && b[16] == b':'
                && digits(17..19)
                && b[19] == b'Z'
                && w[1].starts_with('(')
        })
        .count()
}

#[tokio::test]
async fn cli_lists_users_and_clients_without_secrets() {
    let app = spawn_app().await.with_fixtures().await;
    let db_url = app.database_url.clone();
    let (public, confidential, users, clients) = tokio::task::spawn_blocking(move || {
        let public = issuer_cmd(
            &db_url,
            &[
                "clients",
                "add",
                "spa",
                "--public",
                "--scope",
                "items:read",
                "--audience",
                "orders",
            ],
            None,
        );
        let confidential = issuer_cmd(&db_url, &["clients", "add", "batch"], None);
        let users = issuer_cmd(&db_url, &["users", "list"], None);
        let clients = issuer_cmd(&db_url, &["clients", "list"], None);
        (public, confidential, users, clients)
    })
    .await
    .unwrap();
    assert!(
        public.status.success(),
        "{}",
        String::from_utf8_lossy(&public.stderr)
    );
    assert!(confidential.status.success());
    let generated = String::from_utf8(confidential.stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert!(!generated.is_empty());

    assert!(
        users.status.success(),
        "{}",
        String::from_utf8_lossy(&users.stderr)
    );
    let text = String::from_utf8(users.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("ROLES"),
        "{text}"
    );
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].starts_with("alice ") && lines[1].contains("enabled"),
        "{text}"
    );
    assert!(lines[1].contains("admin"), "{text}");
    assert_eq!(rfc3339_times(&text), 1, "{text}");
    let hash = app
        .store
        .find_user("alice")
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert!(!text.contains(&hash) && !text.contains("$argon2"), "{text}");

    assert!(
        clients.status.success(),
        "{}",
        String::from_utf8_lossy(&clients.stderr)
    );
    let text = String::from_utf8(clients.stdout).unwrap();
    let row = |id: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no {id} in {text}"))
            .to_owned()
    };
    assert!(text.starts_with("ID"), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(row("spa").contains("public") && row("spa").contains("items:read"));
    assert!(row("batch").contains("confidential"));
    assert!(row("web").contains("confidential"));
    assert_eq!(rfc3339_times(&text), 3, "{text}");
    for id in ["web", "batch"] {
        let hash = app
            .store
            .find_client(id)
            .await
            .unwrap()
            .unwrap()
            .secret_hash
            .unwrap();
        assert!(!text.contains(&hash), "{text}");
    }
    assert!(
        !text.contains(&generated) && !text.contains(testkit::fixtures::WEB_SECRET),
        "{text}"
    );
}

#[test]
fn issuer_version_exits_before_reading_configuration() {
    // A configuration error would exit 2: `--version` reads none.
    let out = Command::new(env!("CARGO_BIN_EXE_issuer"))
        .arg("--version")
        .env("ISSUER_ACCESS_TOKEN_TTL", "3h")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("issuer {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn no_database_notice_reaches_the_terminal() {
    // On PostgreSQL (scripts/with-postgres.sh) every command's migrator
    // used to print the NOTICE "relation _sqlx_migrations already exists"
    // at the default log level; the second command on a database shows it.
    let dir = tempfile::tempdir().unwrap();
    let db_url = crate::helpers::test_database_url(dir.path());
    crate::helpers::ensure_database(&db_url).await;
    let outs = tokio::task::spawn_blocking(move || {
        [1, 2].map(|_| {
            Command::new(env!("CARGO_BIN_EXE_issuer"))
                .args(["users", "list"])
                .env("ISSUER_DATABASE_URL", &db_url)
                .env("ISSUER_KEK", shared::b64::encode(crate::helpers::KEK))
                .env("RUST_LOG", "info")
                .output()
                .unwrap()
        })
    })
    .await
    .unwrap();
    for out in outs {
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("notice"), "{stderr}");
    }
}
