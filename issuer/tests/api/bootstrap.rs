//! `ISSUER_BOOTSTRAP_FILE`: the demo file compose mounts creates its users
//! and clients once; restarts leave them (and changes made since) alone; a
//! bad file stops start-up without echoing its contents; without the
//! variable nothing is loaded.

use std::net::TcpListener;
use std::path::PathBuf;

use testkit::internals::Application;

use crate::helpers::{spawn_app, spawn_with, test_config};

fn demo_file() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/demo-bootstrap.json"
    ))
}

async fn status_of(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_demo_file_creates_users_and_clients_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_with(dir.path(), None, |c| c.bootstrap_file = Some(demo_file())).await;

    let (status, body) = status_of(
        app.post_token_basic(
            "demo-service",
            "demo-service-secret",
            &[
                ("grant_type", "password"),
                ("username", "demo"),
                ("password", "demo-password"),
                ("audience", "orders"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), "orders")
        .await;
    assert_eq!(claims.scope, "items:read");

    // The demo user may not have items:write; the demo admin may.
    let (status, body) = status_of(
        app.post_token_basic(
            "demo-service",
            "demo-service-secret",
            &[
                ("grant_type", "password"),
                ("username", "demo"),
                ("password", "demo-password"),
                ("scope", "items:write"),
                ("audience", "orders"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, _) = status_of(
        app.post_token_basic(
            "demo-service",
            "demo-service-secret",
            &[
                ("grant_type", "password"),
                ("username", "demo-admin"),
                ("password", "demo-admin-password"),
                ("scope", "items:read items:write"),
                ("audience", "billing"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = status_of(
        app.post_token_basic(
            "demo-admin-cli",
            "demo-admin-cli-secret",
            &[
                ("grant_type", "client_credentials"),
                ("scope", "keys:admin"),
                ("audience", "http://issuer:8080"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Changes made after the bootstrap survive a restart with the same file.
    let before = app.store.find_user("demo").await.unwrap().unwrap();
    app.store
        .set_user_disabled("demo-admin", true)
        .await
        .unwrap();
    app.stop().await;
    let app = spawn_with(dir.path(), None, |c| c.bootstrap_file = Some(demo_file())).await;
    let after = app.store.find_user("demo").await.unwrap().unwrap();
    assert_eq!(after.password_hash, before.password_hash);
    assert!(
        app.store
            .find_user("demo-admin")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    app.stop().await;
}

#[tokio::test]
async fn without_the_variable_there_is_no_demo_data() {
    let app = spawn_app().await;
    assert!(app.store.find_user("demo").await.unwrap().is_none());
    assert!(
        app.store
            .find_client("demo-service")
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bad_file_stops_start_up_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bootstrap.json");
    for (content, _why) in [
        (
            r#"{"users":[{"name":"x","password":"pw","roles":"s3cret-value"}]}"#,
            "wrong type",
        ),
        (
            r#"{"users":[{"name":"x","password":"s3cret-value""#,
            "truncated",
        ),
        (
            r#"{"clients":[{"id":"a:b","secret":"s3cret-value-0123456789","scopes":[],"audiences":[]}]}"#,
            "bad client id",
        ),
    ] {
        std::fs::write(&bad, content).unwrap();
        let mut config = test_config(dir.path(), "http://localhost");
        crate::helpers::ensure_database(&config.database_url).await;
        config.bootstrap_file = Some(bad.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let err = Application::build_with_listener(config, listener)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap();
        assert!(err.starts_with("ISSUER_BOOTSTRAP_FILE"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
    let mut config = test_config(dir.path(), "http://localhost");
    crate::helpers::ensure_database(&config.database_url).await;
    config.bootstrap_file = Some(dir.path().join("missing.json"));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = Application::build_with_listener(config, listener)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap();
    assert!(err.starts_with("ISSUER_BOOTSTRAP_FILE"), "{err}");
}
