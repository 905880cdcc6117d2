//! Real services in-process on port 0, and the jwtctl binary.

use std::process::Stdio;
use std::time::Duration;

use testkit::internals::Config;
use testkit::resource::{Settings, resource_settings};
pub use testkit::services::{
    ADMIN_ID, ADMIN_SECRET, CLIENT_ID, CLIENT_SECRET, PASSWORD, TestIssuer,
};
use tokio::io::AsyncWriteExt;

/// An issuer with client `cli` (items scopes, audiences orders and billing),
/// admin client `ops` (keys:admin for the issuer URL) and users `alice` and
/// `bob`; two workers, access tokens for 60 s unless `tweak` says otherwise.
pub async fn spawn_issuer(tweak: impl FnOnce(&mut Config)) -> TestIssuer {
    testkit::services::spawn_issuer(|c| {
        c.access_token_ttl = Duration::from_secs(60);
        c.workers = 2;
        tweak(c);
    })
    .await
}

/// A resource service for `audience`, with JWKS cache lifetimes of `ttl`.
pub async fn spawn_resource(issuer_url: &str, audience: &str, ttl: Duration) -> String {
    let settings = Settings {
        jwks_min_ttl: ttl,
        jwks_max_ttl: ttl,
        jwks_cooldown: ttl,
        ..resource_settings(issuer_url, audience)
    };
    testkit::resource::spawn_resource(settings).await.url
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
