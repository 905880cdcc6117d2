//! Building the verifier and the HTTP server from [`Settings`].

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};
use jwks_client::actix::Realm;
use jwks_client::{CacheSettings, HttpSettings, IssuerConfig, Verifier};
use service_kit::fallback::{self, Endpoint};

use crate::config::Settings;
use crate::metrics::{self, Metrics};
use crate::routes::{self, ServiceInfo, admin, health, items, me};

/// A bound, not yet running, resource service.
pub struct Application {
    server: Server,
    port: u16,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish()
    }
}

impl Application {
    /// Builds the verifier (no network yet), binds the listener and starts
    /// warming the key cache in the background. An unreachable issuer does
    /// not stop start-up: the service runs and reports not ready.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let verifier = match settings.issuer_url.as_deref() {
            Some(url) => Some(build_verifier(&settings, url)?),
            None => {
                tracing::warn!("RESOURCE_ISSUER_URL is not set: every protected route answers 503");
                None
            }
        };
        if let Some(verifier) = verifier.clone() {
            tokio::spawn(warm_up(verifier));
        }

        let listener = TcpListener::bind(settings.listen)?;
        let port = listener.local_addr()?.port();
        let service = web::Data::new(ServiceInfo {
            name: settings.service_name.clone(),
        });
        let metrics = web::Data::new(Metrics::new(verifier.clone()));
        let http_metrics = web::Data::new(metrics.http());
        let items = web::Data::new(items::ItemStore::new(settings.max_items));
        let verifier = verifier.map(web::Data::new);
        // Shared with each request's `Bearer` without a copy.
        let realm = web::Data::new(Realm(settings.service_name.clone()));
        tracing::info!(
            port,
            service = %settings.service_name,
            audience = %settings.audience,
            issuer = settings.issuer_url.as_deref().unwrap_or("-"),
            "resource service listening"
        );

        let server = HttpServer::new(move || {
            let mut app = App::new()
                .wrap(from_fn(service_kit::http_metrics::middleware))
                .wrap(from_fn(service_kit::request_id::middleware))
                .app_data(service.clone())
                .app_data(metrics.clone())
                .app_data(http_metrics.clone())
                .app_data(items.clone())
                .app_data(items::json_config())
                .app_data(realm.clone())
                .service(Endpoint::new("/healthz").get(health::healthz))
                .service(Endpoint::new("/readyz").get(health::readyz))
                .service(Endpoint::new("/metrics").get(metrics::endpoint))
                .service(Endpoint::new("/v1/public").get(routes::public))
                // Unknown paths; other methods on known paths are 405s.
                .default_service(web::to(fallback::not_found));
            app = match &verifier {
                Some(verifier) => app
                    .app_data(verifier.clone())
                    .service(Endpoint::new("/v1/me").get(me::me))
                    .service(
                        Endpoint::new("/v1/items")
                            .get(items::list)
                            .post(items::create),
                    )
                    .service(Endpoint::new("/v1/admin").get(admin::admin)),
                None => app.route("/v1/{rest:.*}", web::to(not_configured)),
            };
            app
        })
        .listen(listener)?
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(1))
        .shutdown_timeout(10)
        .run();
        Ok(Application { server, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully: `handle.stop(true).await`.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn build_verifier(settings: &Settings, issuer_url: &str) -> anyhow::Result<Verifier> {
    let mut issuer = IssuerConfig::new(issuer_url)
        .audiences([settings.audience.clone()])
        .leeway(settings.leeway);
    if let Some(jwks_url) = &settings.jwks_url {
        issuer = issuer.jwks_url(jwks_url.clone());
    }
    let cache = CacheSettings {
        min_ttl: settings.jwks_min_ttl,
        max_ttl: settings.jwks_max_ttl,
        unknown_kid_cooldown: settings.jwks_cooldown,
        max_stale: settings.jwks_max_stale,
        ..CacheSettings::default()
    };
    let http = HttpSettings {
        allow_insecure_http: settings.allow_insecure_http,
        ..HttpSettings::default()
    };
    Ok(Verifier::builder()
        .issuer(issuer)
        .cache(cache)
        .http(http)
        .result_cache(settings.result_cache)
        .build()?)
}

/// Fetches the issuer's keys until it succeeds, backing off up to 30 s, so
/// `/readyz` turns ready without waiting for the first token.
async fn warm_up(verifier: Verifier) {
    let mut delay = Duration::from_millis(250);
    loop {
        match verifier.prefetch().await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "issuer keys not available yet");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

async fn not_configured() -> HttpResponse {
    routes::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "this service has no issuer configured",
    )
}
