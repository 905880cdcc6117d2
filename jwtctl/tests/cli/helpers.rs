//! Real services in-process on port 0, and the jwtctl binary.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use issuer::config::KekSource;
use issuer::store::{Client, User};
use resource_api::{Application, Settings};
use shared::config::Secret;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

pub const CLIENT_ID: &str = "cli";
pub const CLIENT_SECRET: &str = "cli-secret-for-tests-only-0123456789";
pub const ADMIN_ID: &str = "ops";
pub const ADMIN_SECRET: &str = "ops-secret-for-tests-only-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestIssuer {
    pub url: String,
    _dir: TempDir,
}

/// An issuer with client `cli` (items scopes, audiences orders and billing),
/// admin client `ops` (keys:admin for the issuer URL) and user `alice`.
pub async fn spawn_issuer(tweak: impl FnOnce(&mut issuer::Config)) -> TestIssuer {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let mut config = issuer::Config {
        issuer_url: url.clone(),
        database_url: format!("sqlite:{}", dir.path().join("issuer.db").display()),
        kek: KekSource::Inline(Secret::new([7u8; 32])),
        access_token_ttl: Duration::from_secs(60),
        workers: 2,
        ..issuer::Config::default()
    };
    tweak(&mut config);
    let app = issuer::Application::build_with_listener(config, listener)
        .await
        .unwrap();
    let store = app.store();
    for (id, secret, scopes, audiences) in [
        (
            CLIENT_ID,
            CLIENT_SECRET,
            vec!["items:read", "items:write"],
            vec!["orders", "billing"],
        ),
        (
            ADMIN_ID,
            ADMIN_SECRET,
            vec!["keys:admin"],
            vec![url.as_str()],
        ),
    ] {
        store
            .insert_client(&Client {
                id: id.into(),
                secret_hash: Some(issuer::domain::clients::hash_client_secret(secret)),
                scopes: scopes.into_iter().map(String::from).collect(),
                audiences: audiences.into_iter().map(String::from).collect(),
                disabled: false,
            })
            .await
            .unwrap();
    }
    store
        .insert_user(&User {
            name: "alice".into(),
            password_hash: issuer::password::hash_password(PASSWORD.as_bytes()).unwrap(),
            roles: vec!["admin".into()],
            scopes: None,
            audiences: None,
            disabled: false,
        })
        .await
        .unwrap();
    tokio::spawn(app.run());
    TestIssuer { url, _dir: dir }
}

/// A resource service for `audience`, with JWKS cache lifetimes of `ttl`.
pub async fn spawn_resource(issuer_url: &str, audience: &str, ttl: Duration) -> String {
    let settings = Settings {
        leeway: Duration::ZERO,
        jwks_min_ttl: ttl,
        jwks_max_ttl: ttl,
        jwks_cooldown: ttl,
        ..Settings::for_issuer(issuer_url, audience)
    };
    let app = Application::build(settings).await.unwrap();
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{url}/readyz")).send().await
            && r.status().is_success()
        {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("resource service {url} never became ready");
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the jwtctl binary with `args`, extra environment and standard input.
pub async fn jwtctl(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_jwtctl"));
    cmd.args(args)
        .env_remove("TOKEN")
        .env_remove("REFRESH_TOKEN")
        .env_remove("JWTCTL_CLIENT_SECRET")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    // A closed pipe is fine: not every command reads its input.
    let _ = input.write_all(stdin.as_bytes()).await;
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("jwtctl did not finish within 60 s")
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The same, blocking, for tests without a runtime.
pub fn jwtctl_sync(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jwtctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
