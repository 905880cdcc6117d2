use std::net::TcpListener;
use std::path::Path;

use actix_web::dev::ServerHandle;
use issuer::Application;
use issuer::clock::Clock;
use issuer::config::{Config, KekSource, ThrottleConfig};
use issuer::domain::clients::hash_client_secret;
use issuer::password::hash_password;
use issuer::store::{Client, Store, User};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use shared::claims::AccessClaims;
use shared::config::Secret;

pub const KEK: [u8; 32] = [42u8; 32];

pub struct TestApp {
    pub address: String,
    pub issuer_url: String,
    /// What `ISSUER_DATABASE_URL` would be for this issuer's store.
    pub database_url: String,
    pub store: Store,
    pub state: actix_web::web::Data<issuer::AppState>,
    pub http: reqwest::Client,
    handle: ServerHandle,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
    // Keeps the temporary directory alive for the app's lifetime.
    pub dir: Option<tempfile::TempDir>,
}

/// The database of the issuer whose files live in `dir`: SQLite in `dir`, or,
/// when `ISSUER_TEST_DATABASE_URL` names a PostgreSQL server, a database on
/// it named after `dir` (so a restart on the same `dir` finds the same data).
pub fn test_database_url(dir: &Path) -> String {
    match std::env::var("ISSUER_TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            use std::hash::{Hash as _, Hasher as _};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut h);
            format!("{}/it_{:016x}", base.trim_end_matches('/'), h.finish())
        }
        _ => format!("sqlite:{}", dir.join("issuer.db").display()),
    }
}

/// Creates the PostgreSQL database `url` names if it does not exist yet
/// (the issuer creates SQLite files itself, but not server databases).
pub async fn ensure_database(url: &str) {
    if url.starts_with("postgres") {
        use sqlx::migrate::MigrateDatabase as _;
        sqlx::any::install_default_drivers();
        if !sqlx::Any::database_exists(url).await.unwrap() {
            sqlx::Any::create_database(url).await.unwrap();
        }
    }
}

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
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
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
    /// Stops the server gracefully and waits until the pool is closed.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.handle.stop(true).await;
        self.join.await.unwrap().unwrap();
        self.dir
    }

    pub async fn add_user(&self, name: &str, password: &str, roles: &[&str]) {
        self.store
            .insert_user(&User {
                name: name.into(),
                password_hash: hash_password(password.as_bytes()).unwrap(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                scopes: None,
                audiences: None,
                disabled: false,
            })
            .await
            .unwrap();
    }

    pub async fn add_client(
        &self,
        id: &str,
        secret: Option<&str>,
        scopes: &[&str],
        audiences: &[&str],
    ) {
        self.store
            .insert_client(&Client {
                id: id.into(),
                secret_hash: secret.map(hash_client_secret),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                audiences: audiences.iter().map(|s| (*s).to_owned()).collect(),
                disabled: false,
            })
            .await
            .unwrap();
    }

    /// The usual fixtures: user alice (role admin) and client web.
    pub async fn with_fixtures(self) -> Self {
        self.add_user("alice", "correct horse battery", &["admin"])
            .await;
        self.add_client(
            "web",
            Some("web-secret-0123456789"),
            &["items:read", "items:write"],
            &["orders", "billing"],
        )
        .await;
        self
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
        self.post_token_basic(
            "web",
            "web-secret-0123456789",
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }

    /// Logs alice in through client web; returns (access, refresh) tokens.
    pub async fn login_tokens(&self) -> (String, String) {
        let res = self.password_login("alice", "correct horse battery").await;
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
        self.post_token_basic("web", "web-secret-0123456789", &form)
            .await
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

    pub async fn jwks(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/.well-known/jwks.json", self.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Verifies `token` independently: key from the served JWKS by `kid`,
    /// RS256 only, exact issuer, required audience, every time claim.
    pub async fn verify(&self, token: &str, audience: &str) -> AccessClaims {
        verify_with_jwks(token, &self.jwks().await, &self.issuer_url, audience)
    }
}

/// The `kid`s a JWKS document publishes.
pub fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The `kid` in a token's header.
pub fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

pub fn verify_with_jwks(
    token: &str,
    jwks: &serde_json::Value,
    issuer: &str,
    audience: &str,
) -> AccessClaims {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("kid in header");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS {jwks}"));
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.validate_exp = true;
    validation.leeway = 5;
    jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
        .expect("token verifies")
        .claims
}

/// Asserts an RFC 6749 error response and returns its raw body.
pub async fn expect_oauth_error(
    res: reqwest::Response,
    status: u16,
    code: &str,
) -> (reqwest::header::HeaderMap, String) {
    assert_eq!(res.status().as_u16(), status);
    let headers = res.headers().clone();
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body = res.text().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], code, "{body}");
    (headers, body)
}
