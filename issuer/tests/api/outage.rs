//! The database going away: start-up errors that say what to check, a
//! start-up that waits for a database still coming up, 503 (never 500)
//! while it is away, and normal service once it is back, without a
//! restart. The outage is a TCP proxy between the issuer and PostgreSQL
//! that the test stops (every connection cut, new ones refused) and starts
//! again on the same port; the server's own killing of connections (as in
//! a database restart) is `pg_terminate_backend`.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{postgres_url, spawn_with};
use crate::procs;

/// A loopback TCP proxy to `upstream` that can be stopped and restarted on
/// the same port.
struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    accept: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let mut proxy = Proxy {
            addr: "127.0.0.1:0".parse().unwrap(),
            upstream,
            accept: None,
            links: Arc::default(),
        };
        proxy.resume().await;
        proxy
    }

    /// Listens again (on the same port once it has one).
    async fn resume(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let (upstream, links) = (self.upstream, self.links.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        }));
    }

    /// The database "goes away": the listener closes and every open
    /// connection is cut.
    fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// `url` (a postgres URL) through this proxy.
    fn route(&self, url: &str) -> String {
        url.replace(&self.upstream.to_string(), &self.addr.to_string())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The test's PostgreSQL database (created) and the server's address.
/// Panics on SQLite: the tests that call it are ignored there.
async fn postgres(dir: &std::path::Path) -> (String, SocketAddr) {
    let url = postgres_url(dir).await;
    let host = url.split_once('@').unwrap().1.split('/').next().unwrap();
    (url.clone(), host.parse().unwrap())
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `issuer ARGS` with `db_url`; returns the exit status, stderr and
/// how long it ran.
async fn run_issuer(
    db_url: &str,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (std::process::ExitStatus, String, Duration) {
    let start = Instant::now();
    let out = procs::issuer_cmd(db_url, extra)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || out.wait_with_output()),
    )
    .await
    .expect("issuer exits")
    .unwrap()
    .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

/// Needs no database server: runs on both passes.
#[tokio::test]
async fn unreachable_database_is_named_without_its_password() {
    let url = format!(
        "postgres://issuer:hunter2-not-printed@127.0.0.1:{}/issuer",
        closed_port()
    );
    let wait = [("ISSUER_DB_STARTUP_WAIT", "1s")];
    let (status, stderr, took) = run_issuer(&url, &wait, &["serve"]).await;
    assert!(!status.success());
    assert!(stderr.contains("ISSUER_DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(stderr.contains("issuer:***@127.0.0.1"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
    assert!(
        stderr.contains("database not reachable yet; retrying"),
        "serve retried first: {stderr}"
    );
    assert!(
        took < Duration::from_secs(20),
        "gave up after the wait: {took:?}"
    );

    // The CLI does not wait, and says the same.
    let (status, stderr, _) = run_issuer(&url, &[], &["keys", "list"]).await;
    assert!(!status.success());
    assert!(stderr.contains("ISSUER_DATABASE_URL"), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/with-postgres.sh"]
async fn missing_database_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = postgres(dir.path()).await;
    let (base, _) = url.rsplit_once('/').unwrap();
    let missing = format!("{base}/no_such_database_here");
    let (status, stderr, took) = run_issuer(&missing, &[], &["serve"]).await;
    assert!(!status.success());
    assert!(stderr.contains("the database does not exist"), "{stderr}");
    assert!(took < Duration::from_secs(10), "no retrying: {took:?}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/with-postgres.sh"]
async fn serve_waits_for_a_database_that_comes_up() {
    let dir = tempfile::tempdir().unwrap();
    let (url, server) = postgres(dir.path()).await;
    procs::seed(&url).await.close().await;
    let mut proxy = Proxy::start(server).await;
    let routed = proxy.route(&url);
    proxy.stop();
    // The database is "down" when the issuer starts, and up 2 s later.
    let starting = tokio::spawn({
        let routed = routed.clone();
        async move { procs::start(&routed, &[("ISSUER_DB_STARTUP_WAIT", "30s")]).await }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.resume().await;
    let instance = starting.await.unwrap();
    assert!(
        !instance
            .log_lines("database not reachable yet; retrying")
            .is_empty()
    );
    let http = procs::http();
    procs::login(&http, &instance.url).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: run by scripts/with-postgres.sh"]
async fn database_outage_gives_503_then_service_resumes_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (url, server) = postgres(dir.path()).await;
    let mut proxy = Proxy::start(server).await;
    let app = spawn_with(dir.path(), None, |config| {
        config.database_url = proxy.route(&url);
        config.db_acquire_timeout = Duration::from_secs(1);
        config.db_statement_timeout = Duration::from_secs(2);
    })
    .await
    .with_fixtures()
    .await;
    let (_, refresh_token) = app.login_tokens().await;

    // The server ends every connection (as a database restart does): the
    // pool replaces them and no request fails.
    let killer = sqlx::AnyPool::connect(&url).await.unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&killer)
    .await
    .unwrap();
    killer.close().await;
    assert!(killed > 0, "the issuer had connections");
    let (_, refresh_token) = app.refresh_ok(&refresh_token).await;

    // The database goes away.
    proxy.stop();
    let started = Instant::now();
    let res = app.password_login("alice", "correct horse battery").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the acquire timeout"
    );
    let (headers, _) =
        crate::helpers::expect_oauth_error(res, 503, "temporarily_unavailable").await;
    assert!(headers.contains_key("retry-after"));
    crate::helpers::expect_oauth_error(
        app.refresh(&refresh_token, &[]).await,
        503,
        "temporarily_unavailable",
    )
    .await;
    let ready = status_of(&app.http, format!("{}/readyz", app.address)).await;
    assert_eq!(ready, 503);
    // What needs no database goes on: liveness and the JWKS.
    for path in ["/healthz", "/.well-known/jwks.json"] {
        let status = status_of(&app.http, format!("{}{path}", app.address)).await;
        assert_eq!(status, 200, "{path}");
    }
    // Nothing answers 500 while the database is away.
    for (path, form) in [
        (
            "/oauth2/introspect",
            vec![("token", refresh_token.as_str())],
        ),
        ("/oauth2/revoke", vec![("token", refresh_token.as_str())]),
    ] {
        let res = app
            .post_form(path, Some(("web", "web-secret-0123456789")), &form)
            .await;
        assert_ne!(res.status().as_u16(), 500, "{path}");
    }

    // It comes back: the same process serves normally again.
    proxy.resume().await;
    let back = Instant::now();
    let deadline = back + Duration::from_secs(20);
    while status_of(&app.http, format!("{}/readyz", app.address)).await != 200 {
        assert!(Instant::now() < deadline, "not ready again within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("ready {:?} after the database came back", back.elapsed());
    let (_, refresh_token) = app.refresh_ok(&refresh_token).await;
    app.refresh_ok(&refresh_token).await;
    let res = app.password_login("alice", "correct horse battery").await;
    assert_eq!(res.status().as_u16(), 200);
    drop(proxy);
}

/// Runs one of the scripts `scripts/with-postgres.sh` names.
async fn pg_ctl(var: &str) {
    let script = std::env::var(var)
        .unwrap_or_else(|_| panic!("{var} is not set: run under scripts/with-postgres.sh"));
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(script)
            .stdout(Stdio::null())
            .status()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(status.success(), "{var} failed");
}

async fn status_of(http: &reqwest::Client, url: String) -> u16 {
    http.get(url).send().await.unwrap().status().as_u16()
}

/// A real PostgreSQL restart under two running `issuer serve` processes:
/// 503 while the server is down, normal service when it is back, the same
/// processes throughout. Ignored in the shared run because it stops the
/// server every other test uses; `.ci/run` runs it alone.
#[tokio::test]
#[ignore = "restarts the PostgreSQL server; .ci/run runs it alone"]
async fn postgres_restart_under_two_instances() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = postgres(dir.path()).await;
    procs::seed(&url).await.close().await;
    let extra = [("ISSUER_DB_ACQUIRE_TIMEOUT", "1s")];
    let (a, b) = tokio::join!(procs::start(&url, &extra), procs::start(&url, &extra));
    let http = procs::http();
    let (_, refresh_token) = procs::login(&http, &a.url).await;

    pg_ctl("ISSUER_TEST_PG_STOP").await;
    for instance in [&a, &b] {
        let res = procs::token(
            &http,
            &instance.url,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", procs::PASSWORD),
                ("audience", "orders"),
            ],
        )
        .await
        .unwrap();
        let (_, body) =
            crate::helpers::expect_oauth_error(res, 503, "temporarily_unavailable").await;
        assert!(
            !body.contains("connection"),
            "no internal error text: {body}"
        );
        let (status, _) = procs::refresh(&http, &instance.url, &refresh_token)
            .await
            .unwrap();
        assert_eq!(status, 503);
        assert_eq!(
            status_of(&http, format!("{}/readyz", instance.url)).await,
            503
        );
        assert_eq!(
            status_of(&http, format!("{}/healthz", instance.url)).await,
            200
        );
    }

    pg_ctl("ISSUER_TEST_PG_START").await;
    let back = Instant::now();
    for instance in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while status_of(&http, format!("{}/readyz", instance.url)).await != 200 {
            assert!(Instant::now() < deadline, "not ready within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eprintln!(
        "both instances ready {:?} after the restart",
        back.elapsed()
    );
    let (status, next) = procs::refresh(&http, &b.url, &refresh_token).await.unwrap();
    assert_eq!(status, 200, "the session survived the restart");
    assert_eq!(
        procs::refresh(&http, &a.url, &next.unwrap())
            .await
            .unwrap()
            .0,
        200
    );
    procs::login(&http, &a.url).await;
}
