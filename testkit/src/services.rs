//! The issuer as the service suites (resource-api, jwtctl) use it: clients
//! `cli` and `ops`, users `alice` (role admin) and `bob` (no roles), and
//! password-grant tokens for a user, scope and audience.

use actix_web::dev::ServerHandle;
use reqwest::StatusCode;

use crate::app::{TestApp, spawn_app_with};
use crate::fixtures::Fixtures;
use crate::internals::Config;

/// Confidential client `cli`: scopes `items:read items:write`, audiences
/// `orders` and `billing`.
pub const CLIENT_ID: &str = "cli";
pub const CLIENT_SECRET: &str = "cli-secret-for-tests-only-0123456789";
/// Confidential client `ops`: scope `keys:admin`, audience the issuer.
pub const ADMIN_ID: &str = "ops";
pub const ADMIN_SECRET: &str = "ops-secret-for-tests-only-0123456789";
/// The password of `alice` and `bob`.
pub const PASSWORD: &str = "correct horse battery staple";

/// The service suites' fixtures for an issuer whose `iss` is `issuer_url`.
pub fn fixtures(issuer_url: &str) -> Fixtures {
    Fixtures::new()
        .client(
            CLIENT_ID,
            Some(CLIENT_SECRET),
            &["items:read", "items:write"],
            &["orders", "billing"],
        )
        .client(ADMIN_ID, Some(ADMIN_SECRET), &["keys:admin"], &[issuer_url])
        .user("alice", PASSWORD, &["admin"])
        .user("bob", PASSWORD, &[])
}

/// A running issuer with the service suites' [`fixtures`].
#[derive(Debug)]
pub struct TestIssuer {
    /// Its address, which is also its `iss`.
    pub url: String,
    pub handle: ServerHandle,
    pub app: TestApp,
}

/// An issuer on port 0 ([`crate::test_config`] changed by `tweak`) with
/// the service suites' [`fixtures`].
pub async fn spawn_issuer(tweak: impl FnOnce(&mut Config)) -> TestIssuer {
    let app = spawn_app_with(tweak).await;
    app.seed(&fixtures(&app.issuer_url)).await;
    TestIssuer {
        url: app.address.clone(),
        handle: app.handle(),
        app,
    }
}

impl TestIssuer {
    /// A password-grant token for `user` with `scope` for `audience`.
    pub async fn token(&self, user: &str, scope: &str, audience: &str) -> String {
        let res = self
            .app
            .post_token_basic(
                CLIENT_ID,
                CLIENT_SECRET,
                &[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", PASSWORD),
                    ("scope", scope),
                    ("audience", audience),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "token request for {user}");
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// How many times the JWKS document has been served, from the issuer's
    /// own metrics.
    pub async fn jwks_fetches(&self) -> u64 {
        self.app
            .metrics()
            .await
            .lines()
            .filter(|l| l.starts_with("issuer_http_requests_total{") && l.contains("jwks.json"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}
