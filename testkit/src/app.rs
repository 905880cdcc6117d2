//! [`TestApp`]: a real issuer in this process on loopback port 0, with
//! its own database, and helpers to get, refresh and check tokens.

use std::net::TcpListener;
use std::path::Path;

use actix_web::dev::ServerHandle;
use service_kit::config::Secret;
use shared::claims::AccessClaims;

use crate::db::{ensure_database, test_database_url};
use crate::fixtures::{ALICE, ALICE_PASSWORD, Fixtures, WEB, WEB_SECRET};
use crate::forge;
use crate::internals::{
    AppState, Application, Clock, Config, Kek, KekSource, KeyState, Store, ThrottleConfig,
};
use crate::oauth::verify_with_jwks;

/// The key-encryption key of every test issuer (and of `issuer` processes
/// started on their databases).
pub const KEK: [u8; 32] = [42u8; 32];

/// A running issuer; [`TestApp::stop`] shuts it down gracefully.
pub struct TestApp {
    pub address: String,
    pub issuer_url: String,
    /// What `ISSUER_DATABASE_URL` would be for this issuer's store.
    pub database_url: String,
    pub store: Store,
    pub state: actix_web::web::Data<AppState>,
    pub http: reqwest::Client,
    handle: ServerHandle,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
    // Keeps the temporary directory alive for the app's lifetime.
    pub dir: Option<tempfile::TempDir>,
}

/// The test issuer's configuration: database for `dir`, [`KEK`], one
/// worker, the default login throttle.
pub fn test_config(dir: &Path, issuer_url: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        issuer_url: issuer_url.into(),
        database_url: test_database_url(dir),
        kek: KekSource::Inline(Secret::new(KEK)),
        workers: 1,
        password_hash_concurrency: 2,
        throttle: ThrottleConfig {
            max_failures_per_user: 5,
            max_failures_per_ip: 20,
            window: std::time::Duration::from_secs(300),
        },
        ..Config::default()
    }
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("address", &self.address)
            .field("issuer_url", &self.issuer_url)
            .finish_non_exhaustive()
    }
}

/// A fresh issuer with its own database in a new temporary directory.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with configuration changes.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_with(dir.path(), None, tweak).await;
    app.dir = Some(dir);
    app
}

/// [`spawn_app_with`] on `clock` (a `ManualClock`'s, to advance instead of
/// sleeping).
pub async fn spawn_app_with_clock(clock: Clock, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_with_clock(dir.path(), None, clock, tweak).await;
    app.dir = Some(dir);
    app
}

/// An issuer on the database in `dir`; `issuer_url` defaults to its address.
pub async fn spawn_with(
    dir: &Path,
    issuer_url: Option<&str>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    spawn_with_clock(dir, issuer_url, Clock::system(), tweak).await
}

/// [`spawn_with`] on `clock`.
pub async fn spawn_with_clock(
    dir: &Path,
    issuer_url: Option<&str>,
    clock: Clock,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let issuer_url = issuer_url.map_or_else(|| address.clone(), str::to_owned);
    let mut config = test_config(dir, &issuer_url);
    tweak(&mut config);
    ensure_database(&config.database_url).await;
    let database_url = config.database_url.clone();
    let app = Application::build_with_clock(config, listener, clock)
        .await
        .expect("issuer starts");
    let store = app.store().clone();
    let state = app.state();
    let handle = app.handle();
    let join = tokio::spawn(app.run());
    let http = crate::http();
    TestApp {
        address,
        issuer_url,
        database_url,
        store,
        state,
        http,
        handle,
        join,
        dir: None,
    }
}

impl TestApp {
    /// The issuer's active signing key, private half included, read from
    /// its store and opened with [`KEK`]: lets a test sign what the issuer
    /// itself never would (hostile headers and claims under a trusted key).
    pub async fn active_signing_key(&self) -> forge::Key {
        let rows = self.store.list_keys().await.unwrap();
        let row = rows
            .iter()
            .find(|k| k.state == KeyState::Active)
            .expect("an active key");
        let sealed = row.private_key.as_deref().expect("its private key");
        let der = Kek::new(&KEK).unwrap().open(&row.kid, sealed).unwrap();
        forge::Key::from_pkcs8(&der)
    }

    /// Stops the server gracefully and waits until the pool is closed.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.handle.stop(true).await;
        self.join.await.unwrap().unwrap();
        self.dir
    }

    /// Creates an enabled user.
    pub async fn add_user(&self, name: &str, password: &str, roles: &[&str]) {
        Fixtures::new()
            .user(name, password, roles)
            .seed(&self.store)
            .await;
    }

    pub async fn add_client(
        &self,
        id: &str,
        secret: Option<&str>,
        scopes: &[&str],
        audiences: &[&str],
    ) {
        Fixtures::new()
            .client(id, secret, scopes, audiences)
            .seed(&self.store)
            .await;
    }

    /// The usual fixtures ([`Fixtures::standard`]): user alice (role
    /// admin) and client web.
    pub async fn with_fixtures(self) -> Self {
        self.seed(&Fixtures::standard()).await;
        self
    }

    /// Creates the users and clients of `fixtures`.
    pub async fn seed(&self, fixtures: &Fixtures) {
        fixtures.seed(&self.store).await;
    }

    /// The server's handle (to stop it without waiting for the task).
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    pub async fn post_token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth2/token", self.address))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_token_basic(
        &self,
        id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth2/token", self.address))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// `POST /oauth2/token` as the standard client `web` (HTTP Basic).
    pub async fn post_token_web(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_token_basic(WEB, WEB_SECRET, form).await
    }

    pub async fn post_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth2/token", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn password_login(&self, user: &str, password: &str) -> reqwest::Response {
        self.post_token_web(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .await
    }

    /// Logs alice in through client web; returns (access, refresh) tokens.
    pub async fn login_tokens(&self) -> (String, String) {
        let res = self.password_login(ALICE, ALICE_PASSWORD).await;
        assert_eq!(res.status().as_u16(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        )
    }

    /// `grant_type=refresh_token` as client web, with extra parameters.
    pub async fn refresh(&self, token: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
        form.extend_from_slice(extra);
        self.post_token_web(&form).await
    }

    /// A successful refresh: (access, refresh) tokens.
    pub async fn refresh_ok(&self, token: &str) -> (String, String) {
        let res = self.refresh(token, &[]).await;
        assert_eq!(res.status().as_u16(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// POSTs a form to `path` (`/oauth2/revoke`, `/oauth2/introspect`),
    /// authenticated as `client` (id, secret) with HTTP Basic when given.
    pub async fn post_form(
        &self,
        path: &str,
        client: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.address)).form(form);
        if let Some((id, secret)) = client {
            req = req.basic_auth(id, Some(secret));
        }
        req.send().await.unwrap()
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `GET path` on this issuer, as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn jwks(&self) -> serde_json::Value {
        self.get_json("/.well-known/jwks.json").await
    }

    /// Verifies `token` independently: key from the served JWKS by `kid`,
    /// RS256 only, exact issuer, required audience, every time claim.
    pub async fn verify(&self, token: &str, audience: &str) -> AccessClaims {
        verify_with_jwks(token, &self.jwks().await, &self.issuer_url, audience)
    }
}
