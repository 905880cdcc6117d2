//! The binary itself: `resource-api` with no arguments serves, and
//! `resource-api healthcheck` exits 0 only when that instance is ready
//! (what the container health checks run).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{resource_settings, spawn_issuer, spawn_resource};

const BIN: &str = env!("CARGO_BIN_EXE_resource-api");

/// Kills the child process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `resource-api healthcheck` against `listen`; true when it exits 0.
fn healthcheck(listen: &str) -> bool {
    Command::new(BIN)
        .arg("healthcheck")
        .env_clear()
        .env("RESOURCE_LISTEN", listen)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[tokio::test]
async fn healthcheck_passes_only_for_a_ready_instance() {
    let issuer = spawn_issuer(Duration::from_secs(600)).await;
    let ready = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let port = ready.url.rsplit(':').next().unwrap().to_owned();
    // 0.0.0.0 (as in a container) is probed on loopback.
    let ok = tokio::task::spawn_blocking(move || healthcheck(&format!("0.0.0.0:{port}")));
    assert!(ok.await.unwrap(), "ready instance");

    let mut settings = resource_settings(&issuer.url, "billing");
    settings.issuer_url = None;
    let app = resource_api::Application::build(settings).await.unwrap();
    let port = app.port();
    tokio::spawn(app.run());
    let ok = tokio::task::spawn_blocking(move || healthcheck(&format!("127.0.0.1:{port}")));
    assert!(
        !ok.await.unwrap(),
        "instance without an issuer is not ready"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let ok = tokio::task::spawn_blocking(move || healthcheck(&closed.to_string()));
    assert!(!ok.await.unwrap(), "nothing listening");
}

#[tokio::test]
async fn the_binary_without_arguments_serves_and_stays_up_without_an_issuer() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = KillOnDrop(
        Command::new(BIN)
            .env_clear()
            .env("RESOURCE_LISTEN", &listen)
            .env("RESOURCE_ISSUER_URL", "http://127.0.0.1:9")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let healthz = loop {
        match http.get(format!("http://{listen}/healthz")).send().await {
            Ok(res) => break res.status(),
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("resource-api never answered: {e}"),
        }
    };
    assert_eq!(healthz, StatusCode::OK);
    let readyz = http
        .get(format!("http://{listen}/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(readyz, StatusCode::SERVICE_UNAVAILABLE);
    let probe = listen.clone();
    assert!(
        !tokio::task::spawn_blocking(move || healthcheck(&probe))
            .await
            .unwrap()
    );
    // Still running: an unreachable issuer is not a reason to exit.
    assert!(child.0.try_wait().unwrap().is_none());
}

#[test]
fn version_prints_and_exits_without_starting() {
    // With no configuration the service would start (not ready) and serve
    // until stopped; `--version` must exit at once instead.
    let child = Command::new(BIN)
        .arg("--version")
        .env_clear()
        .env("RESOURCE_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "resource-api --version did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.0.stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(
        stdout.trim(),
        format!("resource-api {}", env!("CARGO_PKG_VERSION"))
    );
}
