//! Starting real services on loopback and getting tokens from them.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use issuer::config::KekSource;
use issuer::store::{Client, User};
use reqwest::StatusCode;
use resource_api::{Application, Settings};
use shared::config::Secret;
use tempfile::TempDir;

pub const CLIENT_ID: &str = "cli";
pub const CLIENT_SECRET: &str = "cli-secret-for-tests-only-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

/// A running issuer with a client `cli` and users `alice` (role admin) and
/// `bob` (no roles).
pub struct TestIssuer {
    pub url: String,
    pub handle: ServerHandle,
    _dir: TempDir,
}

pub async fn spawn_issuer(access_token_ttl: Duration) -> TestIssuer {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let config = issuer::Config {
        issuer_url: url.clone(),
        database_url: format!("sqlite:{}", dir.path().join("issuer.db").display()),
        kek: KekSource::Inline(Secret::new([7u8; 32])),
        access_token_ttl,
        workers: 1,
        ..issuer::Config::default()
    };
    let app = issuer::Application::build_with_listener(config, listener)
        .await
        .unwrap();
    let store = app.store();
    store
        .insert_client(&Client {
            id: CLIENT_ID.into(),
            secret_hash: Some(issuer::domain::clients::hash_client_secret(CLIENT_SECRET)),
            scopes: vec!["items:read".into(), "items:write".into()],
            audiences: vec!["orders".into(), "billing".into()],
            disabled: false,
        })
        .await
        .unwrap();
    let password_hash = issuer::password::hash_password(PASSWORD.as_bytes()).unwrap();
    for (name, roles) in [("alice", vec!["admin".to_owned()]), ("bob", vec![])] {
        store
            .insert_user(&User {
                name: name.into(),
                password_hash: password_hash.clone(),
                roles,
                scopes: None,
                audiences: None,
                disabled: false,
            })
            .await
            .unwrap();
    }
    let handle = app.handle();
    tokio::spawn(app.run());
    TestIssuer {
        url,
        handle,
        _dir: dir,
    }
}

impl TestIssuer {
    /// A password-grant token for `user` with `scope` for `audience`.
    pub async fn token(&self, user: &str, scope: &str, audience: &str) -> String {
        let res = reqwest::Client::new()
            .post(format!("{}/oauth2/token", self.url))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", PASSWORD),
                ("scope", scope),
                ("audience", audience),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "token request for {user}");
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// How many times the JWKS document has been served, from the issuer's
    /// own metrics.
    pub async fn jwks_fetches(&self) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|l| l.starts_with("issuer_http_requests_total{") && l.contains("jwks.json"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}

/// A running resource service.
pub struct TestResource {
    pub url: String,
    pub http: reqwest::Client,
}

pub async fn spawn_resource(settings: Settings) -> TestResource {
    let app = Application::build(settings).await.unwrap();
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let resource = TestResource {
        url,
        http: reqwest::Client::new(),
    };
    resource.wait_ready().await;
    resource
}

/// Resource settings trusting `issuer` for `audience`, no clock leeway.
pub fn resource_settings(issuer_url: &str, audience: &str) -> Settings {
    Settings {
        leeway: Duration::ZERO,
        ..Settings::for_issuer(issuer_url, audience)
    }
}

impl TestResource {
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    pub async fn wait_ready(&self) {
        for _ in 0..100 {
            if self.get("/readyz", None).await.status() == StatusCode::OK {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("resource service at {} never became ready", self.url);
    }
}

/// The `WWW-Authenticate` header of a response, or "".
pub fn challenge(res: &reqwest::Response) -> String {
    res.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}
