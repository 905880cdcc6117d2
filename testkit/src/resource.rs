//! A resource-api service in this process on port 0, returned once its
//! `/readyz` answers 200.

use std::time::Duration;

use reqwest::StatusCode;
use resource_api::Application;
pub use resource_api::Settings;

/// A running resource service.
#[derive(Debug)]
pub struct TestResource {
    pub url: String,
    pub http: reqwest::Client,
}

/// Starts a resource service with `settings` and waits until it is ready.
pub async fn spawn_resource(settings: Settings) -> TestResource {
    let app = Application::build(settings).await.unwrap();
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let resource = TestResource {
        url,
        // A fresh connection per request: after a refusal that closes the
        // connection (a 1 MB header) the next request must not pick up the
        // dead one from the pool.
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
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
    /// GETs `path`, with `token` as a bearer token when given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    /// Polls `/readyz` every 50 ms, at most 100 times.
    pub async fn wait_ready(&self) {
        for _ in 0..100 {
            if let Ok(res) = self.http.get(format!("{}/readyz", self.url)).send().await
                && res.status() == StatusCode::OK
            {
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
