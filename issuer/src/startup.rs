//! The composition root: building and running the HTTP service.
//!
//! [`Application::build`] connects the store (running migrations), builds
//! the key manager (loading or creating the signing keys), the password
//! hasher, the login throttle and the [`AppState`], binds the listener and
//! prepares the server; [`Application::run`] starts the key scheduler
//! ([`KeyManager::run_scheduler`]) and the maintenance loop, serves until
//! SIGINT/SIGTERM (actix-web's default signal handling) or until a
//! [`ServerHandle`] stops it, then flushes counters and closes the database
//! pool. Once a minute the maintenance loop flushes the signed-token
//! counters, drops sealed refresh successors whose grace window has passed
//! and purges failed logins that have left the throttle window.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::web;
use actix_web::{App, HttpServer};
use jwks_client::actix::Realm;
use jwks_client::{IssuerConfig, RequiredClaim, Verifier};
use service_kit::fallback::{self, Endpoint};

use crate::clock::Clock;
use crate::config::Config;
use crate::lifecycle::{self, KeyManager, KeySettings, LifecycleError};
use crate::metrics::Metrics;
use crate::password::{PasswordError, Passwords};
use crate::routes;
use crate::state::AppState;
use crate::store::{Store, StoreError};
use crate::throttle::LoginThrottle;

/// Why the service could not start. Messages name the problem, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Open(#[from] crate::store::OpenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] LifecycleError),
    #[error(transparent)]
    Kek(#[from] crate::keys::KeyError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Config(#[from] service_kit::config::ConfigError),
    #[error(transparent)]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
    #[error("starting the HTTP server failed: {0}")]
    Server(#[source] std::io::Error),
    #[error("building the token verifier failed: {0}")]
    Verifier(#[from] jwks_client::BuildError),
}

/// The issuer service, bound and ready to run.
pub struct Application {
    server: Server,
    addr: SocketAddr,
    state: web::Data<AppState>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `config.listen` and builds the service.
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(&config.listen).map_err(|source| StartupError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
        Self::build_with_listener(config, listener).await
    }

    /// Builds the service on an already-bound listener (tests bind
    /// `127.0.0.1:0` first so they can put the port in `issuer_url`).
    pub async fn build_with_listener(
        config: Config,
        listener: TcpListener,
    ) -> Result<Self, StartupError> {
        Self::build_with_clock(config, listener, Clock::system()).await
    }

    /// [`build_with_listener`](Self::build_with_listener) with the clock of
    /// the refresh-token and login-throttle rules (tests pass a
    /// [`crate::clock::ManualClock`]'s).
    pub async fn build_with_clock(
        config: Config,
        listener: TcpListener,
        clock: Clock,
    ) -> Result<Self, StartupError> {
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
        config.validate()?;
        let store = Store::open(
            &config.database_url,
            &config.pool_settings(),
            config.db_startup_wait,
        )
        .await?;
        let kek = lifecycle::load_kek(&config)?;
        // Transitions that fell due while the service was down are carried
        // out here.
        let keys = KeyManager::start(
            store.clone(),
            kek,
            KeySettings::from_config(&config),
            shared::now_unix(),
        )
        .await?;
        let passwords = Passwords::new(config.password_limits())?;
        if let Some(path) = &config.bootstrap_file {
            crate::bootstrap::apply(&store, path).await?;
        }
        let scopes = store.client_scopes().await?;
        let discovery =
            serde_json::to_vec(&routes::discovery::document(&config.issuer_url, &scopes))
                .map_err(|e| StartupError::Server(std::io::Error::other(e)))?;
        let metrics = Metrics::new();
        let throttle = LoginThrottle::new(store.clone(), &config.throttle, clock.clone());
        let keys = Arc::new(keys);
        // The issuer verifies its own tokens with jwks-client, over the keys
        // it publishes (kept in step by the key ring), never over HTTP.
        let local_keys = keys.ring().local_keys().clone();
        // RFC 7662: the issuer judges its tokens for every audience. Leeway
        // 5 s is the nbf leeway; exp gets none (checked again by the handler).
        let introspection = Verifier::builder()
            .issuer(
                IssuerConfig::new(config.issuer_url.clone())
                    .any_audience()
                    .leeway(Duration::from_secs(5))
                    .required_claims(&[
                        RequiredClaim::Sub,
                        RequiredClaim::Iat,
                        RequiredClaim::Nbf,
                        RequiredClaim::Jti,
                        RequiredClaim::ClientId,
                    ])
                    .local_keys(local_keys.clone()),
            )
            .build()?;
        // `/admin`: an access token for the admin audience, found by the
        // `Bearer` extractor in the scope's app data.
        let admin_verifier = web::Data::new(
            Verifier::builder()
                .issuer(
                    IssuerConfig::new(config.issuer_url.clone())
                        .audiences([config.admin_audience()])
                        .local_keys(local_keys),
                )
                .build()?,
        );
        let admin_realm = web::Data::new(Realm("issuer".into()));
        let state = web::Data::new(AppState {
            store,
            keys,
            introspection,
            passwords,
            throttle,
            metrics: metrics.clone(),
            clock,
            discovery: discovery.into(),
            config: config.clone(),
        });
        let active = state.keys.current().active().kid().to_owned();
        let http_metrics = web::Data::new(metrics.http());
        let metrics = web::Data::new(metrics);

        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(service_kit::http_metrics::middleware))
                .wrap(from_fn(service_kit::request_id::middleware))
                .app_data(app_state.clone())
                .app_data(metrics.clone())
                .app_data(http_metrics.clone())
                .service(Endpoint::new("/oauth2/token").post(routes::token::token))
                .service(Endpoint::new("/oauth2/revoke").post(routes::revoke::revoke))
                .service(Endpoint::new("/oauth2/introspect").post(routes::introspect::introspect))
                .service(Endpoint::new("/.well-known/jwks.json").get(routes::jwks::jwks))
                .service(
                    Endpoint::new("/.well-known/openid-configuration")
                        .get(routes::discovery::discovery),
                )
                .service(
                    Endpoint::new("/.well-known/oauth-authorization-server")
                        .get(routes::discovery::discovery),
                )
                .service(
                    web::scope("/admin")
                        .app_data(admin_verifier.clone())
                        .app_data(admin_realm.clone())
                        .service(Endpoint::new("/keys").get(routes::admin::list))
                        .service(Endpoint::new("/keys/rotate").post(routes::admin::rotate))
                        .service(Endpoint::new("/keys/{kid}/revoke").post(routes::admin::revoke)),
                )
                .service(Endpoint::new("/healthz").get(routes::health::healthz))
                .service(Endpoint::new("/readyz").get(routes::health::readyz))
                .service(Endpoint::new("/metrics").get(routes::health::metrics))
                // Unknown paths; other methods on these paths are 405s.
                .default_service(web::to(fallback::not_found))
        })
        .workers(config.workers)
        .max_connections(config.max_connections)
        .backlog(1024)
        .keep_alive(Duration::from_secs(30))
        .client_request_timeout(Duration::from_secs(10))
        .client_disconnect_timeout(Duration::from_secs(5))
        .shutdown_timeout(10)
        .listen(listener)
        .map_err(StartupError::Server)?
        .run();

        tracing::info!(
            %addr,
            issuer = %config.issuer_url,
            active_kid = %active,
            "issuer listening"
        );
        Ok(Application {
            server,
            addr,
            state,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (tests drive the key lifecycle through it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The store (tests and tooling seed users and clients through it).
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops the server gracefully: `handle.stop(true).await`.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, then flushes counters and closes the pool.
    pub async fn run(self) -> std::io::Result<()> {
        let flusher = tokio::spawn(maintenance(self.state.clone()));
        let scheduler = tokio::spawn(self.state.keys.clone().run_scheduler());
        let result = self.server.await;
        flusher.abort();
        scheduler.abort();
        self.state.keys.flush_signed_counts().await;
        self.state.store.close().await;
        tracing::info!("issuer stopped");
        result
    }
}

/// Once a minute: flush the signed-token counters, drop sealed refresh
/// successors whose grace window has passed, purge failed logins that left
/// the throttle window.
async fn maintenance(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.tick().await;
    loop {
        tick.tick().await;
        state.keys.flush_signed_counts().await;
        // Sealed successors are kept only for the grace window.
        let grace = i64::try_from(state.config.refresh.grace.as_millis()).unwrap_or(0);
        let before = state.clock.now_ms().saturating_sub(grace);
        if let Err(e) = state.store.purge_sealed_successors(before).await {
            tracing::warn!(error = %e, "could not purge sealed refresh successors");
        }
        // Failed logins that left the throttle window.
        if let Err(e) = state.throttle.purge().await {
            tracing::warn!(error = %e, "could not purge expired failed logins");
        }
    }
}
