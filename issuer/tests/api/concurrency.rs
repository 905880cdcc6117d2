//! Two `issuer serve` processes on one SQLite file: they bootstrap an empty
//! key table together and receive a rotate request at the same moment.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use issuer::store::Store;

const ISSUER_URL: &str = "http://issuer.localhost";
const SECRET: &str = "ops-secret-0123456789";

fn base_cmd(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_issuer"));
    cmd.env("ISSUER_DATABASE_URL", db_url)
        .env("ISSUER_KEK", shared::b64::encode(crate::helpers::KEK))
        .env("ISSUER_URL", ISSUER_URL)
        .env("ISSUER_LISTEN", "127.0.0.1:0")
        .env("ISSUER_JWKS_MAX_AGE", "2")
        .env("ISSUER_WORKERS", "1")
        .env("ISSUER_LOG_FORMAT", "json")
        .env("RUST_LOG", "info");
    cmd
}

/// Kills the child when dropped, so a failing test leaves no process behind.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `issuer serve`; returns it and a receiver for its bound address,
/// read from the "issuer listening" log line (stderr keeps being drained).
fn serve(db_url: &str) -> (Serve, std::sync::mpsc::Receiver<String>) {
    let mut child = base_cmd(db_url)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if event["message"] == "issuer listening"
                && let Some(addr) = event["addr"].as_str()
            {
                let _ = tx.send(format!("http://{addr}"));
            }
        }
    });
    (Serve(child), rx)
}

#[tokio::test]
async fn two_processes_bootstrap_and_rotate_once() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:{}", dir.path().join("issuer.db").display());
    // The admin client, through the CLI (creates the database, no keys).
    let mut add = base_cmd(&db_url)
        .args([
            "clients",
            "add",
            "ops",
            "--scope",
            "keys:admin",
            "--audience",
            ISSUER_URL,
            "--secret-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(format!("{SECRET}\n").as_bytes())
        .unwrap();
    assert!(add.wait().unwrap().success());

    // Both start on the empty key table at once.
    let (_a, rx_a) = serve(&db_url);
    let (_b, rx_b) = serve(&db_url);
    let wait = |rx: std::sync::mpsc::Receiver<String>| {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("issuer started")
    };
    let (url_a, url_b) = tokio::task::spawn_blocking(move || (wait(rx_a), wait(rx_b)))
        .await
        .unwrap();

    let store = Store::connect(&db_url, 1).await.unwrap();
    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 2, "one active and one pending key: {keys:?}");
    assert_eq!(keys.iter().filter(|k| k.state == "active").count(), 1);

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let res = http
        .post(format!("{url_a}/oauth2/token"))
        .basic_auth("ops", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let token = res.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotate = |url: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            http.post(format!("{url}/admin/keys/rotate"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let (sa, sb) = tokio::join!(rotate(url_a.clone()), rotate(url_b.clone()));
    let mut statuses = [sa, sb];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "one rotation wins, the other is told");

    let after = store.list_keys().await.unwrap();
    assert_eq!(after.len(), 3, "exactly one new key: {after:?}");
    assert_eq!(after.iter().filter(|k| k.state == "active").count(), 1);
    assert_eq!(after.iter().filter(|k| k.state == "pending").count(), 2);
    let new_kid = after
        .iter()
        .find(|k| !keys.iter().any(|old| old.kid == k.kid))
        .unwrap()
        .kid
        .clone();

    // The instance that lost publishes the new key within its reload
    // interval (1 s for a 2 s max-age).
    let mut seen = [false, false];
    for _ in 0..40 {
        for (i, url) in [&url_a, &url_b].into_iter().enumerate() {
            let jwks: serde_json::Value = http
                .get(format!("{url}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            seen[i] = jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == new_kid.as_str());
        }
        if seen == [true, true] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, [true, true], "both instances serve the new key");
    store.close().await;
}
