//! Real `issuer serve` processes for multi-instance tests: several
//! instances on one database (the store `helpers::test_database_url` picks:
//! SQLite, or PostgreSQL in the CI pass), all with the same `iss` and KEK,
//! as behind a load balancer.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testkit::fixtures::Fixtures;
use testkit::internals::Store;

/// The `iss` every instance shares.
pub const ISSUER_URL: &str = "http://issuer.localhost";
/// Secret of the confidential clients `ops` (scope `keys:admin`) and `web`.
pub const SECRET: &str = "ops-secret-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

/// `issuer` with the shared settings; `ISSUER_JWKS_MAX_AGE=2` and a 1 s
/// margin keep key timings to seconds.
pub fn issuer_cmd(db_url: &str, extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_issuer"));
    cmd.env("ISSUER_DATABASE_URL", db_url)
        .env("ISSUER_KEK", shared::b64::encode(crate::helpers::KEK))
        .env("ISSUER_URL", ISSUER_URL)
        .env("ISSUER_LISTEN", "127.0.0.1:0")
        .env("ISSUER_JWKS_MAX_AGE", "2")
        .env("ISSUER_KEY_MARGIN", "1s")
        .env("ISSUER_WORKERS", "1")
        .env("ISSUER_PASSWORD_HASH_CONCURRENCY", "2")
        .env("ISSUER_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    for (name, value) in extra {
        cmd.env(name, value);
    }
    cmd
}

/// A running `issuer serve`, killed (SIGKILL) when dropped so that a
/// failing test leaves no process behind.
pub struct Instance {
    child: Child,
    pub url: String,
    /// Its log lines so far (JSON), for assertions and failure messages.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    /// Kills the process with SIGKILL: no shutdown code runs.
    pub fn sigkill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The process id (for reading `/proc/PID/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log lines that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(needle)).cloned().collect()
    }
}

/// Starts `issuer serve` and waits (at most 60 s) for its "issuer listening"
/// line.
pub async fn start(db_url: &str, extra: &[(&str, &str)]) -> Instance {
    let mut child = issuer_cmd(db_url, extra)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let lines = log.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && event["message"] == "issuer listening"
                && let Some(addr) = event["addr"].as_str()
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(format!("http://{addr}"));
            }
            lines.lock().unwrap().push(line);
        }
    });
    let url = match tokio::time::timeout(Duration::from_secs(60), rx).await {
        Ok(Ok(url)) => url,
        _ => {
            let _ = child.kill();
            panic!(
                "issuer did not start; log:\n{}",
                log.lock().unwrap().join("\n")
            );
        }
    };
    Instance { child, url, log }
}

/// User `alice` (role `staff`) and the confidential clients `ops` (scope
/// `keys:admin`, audience the issuer) and `web` (scopes `items:read`,
/// audience `orders`).
pub fn fixtures() -> Fixtures {
    Fixtures::new()
        .user("alice", PASSWORD, &["staff"])
        .client("ops", Some(SECRET), &["keys:admin"], &[ISSUER_URL])
        .client("web", Some(SECRET), &["items:read"], &["orders"])
}

/// Creates the database (PostgreSQL) with the schema and [`fixtures`].
pub async fn seed(db_url: &str) -> Store {
    crate::helpers::ensure_database(db_url).await;
    let store = Store::connect(db_url, 2).await.unwrap();
    fixtures().seed(&store).await;
    store
}

/// An HTTP client with a bounded timeout.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// POSTs a token request as client `web` (or `ops` for client credentials).
pub async fn token(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> reqwest::Result<reqwest::Response> {
    let client = if form.contains(&("grant_type", "client_credentials")) {
        "ops"
    } else {
        "web"
    };
    http.post(format!("{url}/oauth2/token"))
        .basic_auth(client, Some(SECRET))
        .form(form)
        .send()
        .await
}

/// Alice's password login at `url`: `(access_token, refresh_token)`.
pub async fn login(http: &reqwest::Client, url: &str) -> (String, String) {
    let res = token(
        http,
        url,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
            ("audience", "orders"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// An admin access token (`keys:admin`) from `url`.
pub async fn admin_token(http: &reqwest::Client, url: &str) -> String {
    let res = token(http, url, &[("grant_type", "client_credentials")])
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// One refresh at `url`: the status and, on 200, the new refresh token.
pub async fn refresh(
    http: &reqwest::Client,
    url: &str,
    refresh_token: &str,
) -> reqwest::Result<(u16, Option<String>)> {
    let res = token(
        http,
        url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await?;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    Ok((status, body["refresh_token"].as_str().map(str::to_owned)))
}
