//! The token issuer: authenticates users and service clients and signs
//! short-lived RS256 access tokens (RFC 9068 `at+jwt`), publishes its public
//! keys as a JWKS and an OAuth 2.0 / OIDC discovery document.
//!
//! # Layout
//!
//! - [`config`]: typed `ISSUER_*` configuration ([`Config`]).
//! - [`startup`]: the composition root: [`Application::build`] (store, key
//!   manager, passwords, throttle, [`AppState`], HTTP server) →
//!   [`Application::run`] (key scheduler, maintenance loop);
//!   [`Application::build_with_clock`] for tests with a manual clock.
//! - [`state`]: the shared [`AppState`].
//! - [`clock`]: the injectable clock of the refresh and throttle rules
//!   ([`clock::Clock`], [`clock::ManualClock`]).
//! - [`domain`]: the rules, free of HTTP: client authentication
//!   ([`domain::clients`]), scope/audience narrowing and the password and
//!   client-credentials grants ([`domain::grants`]), signing the access
//!   token ([`domain::issuance`]), refresh-token rotation
//!   ([`domain::refresh`]: families, reuse detection, the grace window),
//!   users and their disabling/deletion ([`domain::users`]).
//! - [`audit`]: the one audit path (structured log line + `audit_events`
//!   row), used by the domain, the key manager and the CLI.
//! - [`routes`]: HTTP only: `POST /oauth2/token`, `POST /oauth2/revoke`,
//!   `POST /oauth2/introspect`, `GET /.well-known/jwks.json`, discovery,
//!   `/healthz`, `/readyz`, `/metrics`, the key administration API
//!   `/admin/keys` ([`routes::admin`]); the extractors
//!   ([`routes::extract`]: the OAuth form, the request context), client
//!   authentication from a request ([`routes::client_auth`]), the refresh
//!   cookie ([`routes::cookie`]) and the RFC 6749 error answers
//!   ([`routes::error::TokenError`]).
//! - [`keys`]: key generation, AES-256-GCM encryption at rest, the in-memory
//!   key set and token signing ([`keys::SigningKey::sign`]).
//! - [`lifecycle`]: key management as one type,
//!   [`lifecycle::KeyManager`]: the KEK; loading/creating keys at start-up;
//!   scheduled transitions pending → active → retiring → retired; planned
//!   and emergency rotation shared by the admin API and the CLI.
//! - [`store`]: the sqlx `AnyPool` store (SQLite or PostgreSQL) and migrations.
//! - [`password`]: Argon2id hashing on the blocking pool.
//! - [`throttle`]: failed-login sliding windows, counted in the database so
//!   that every instance on it enforces one limit.
//! - [`form`]: strict form parsing.
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`cli`]: the `issuer` command line (one file per command group).
//! - [`bootstrap`]: demo users and clients from `ISSUER_BOOTSTRAP_FILE`.
//!
//! # Configuration
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ISSUER_LISTEN` | `127.0.0.1:8080` | address:port (use `0.0.0.0:8080` in a container) |
//! | `ISSUER_URL` | `http://localhost:8080` | the `iss` claim and discovery base |
//! | `ISSUER_DATABASE_URL` | `sqlite:issuer.db` | `sqlite:PATH` (created if missing) or `postgres://…` |
//! | `ISSUER_KEK` / `ISSUER_KEK_FILE` | generated file `<db>.kek` | 32-byte base64url key-encryption key (required for PostgreSQL) |
//! | `ISSUER_ACCESS_TOKEN_TTL` | `10m` | 1m..1h |
//! | `ISSUER_REFRESH_TOKEN_IDLE_TTL` | `14d` | a refresh token unused this long expires (1s..365d) |
//! | `ISSUER_REFRESH_TOKEN_ABSOLUTE_TTL` | `90d` | a session (family) ends this long after login (1s..3650d) |
//! | `ISSUER_REFRESH_GRACE` | `0` | retry window for the predecessor of the newest refresh token (0..60s) |
//! | `ISSUER_REFRESH_COOKIE` | `false` | browser mode: refresh token in an `HttpOnly` cookie (see [`domain::refresh`]) |
//! | `ISSUER_JWKS_MAX_AGE` | `300` | seconds, 0..86400 |
//! | `ISSUER_KEY_BITS` | `2048` | 2048, 3072 or 4096 |
//! | `ISSUER_KEY_ROTATION_PERIOD` | `30d` | when the pending successor activates (1m..365d, or `off`: manual rotations only) |
//! | `ISSUER_KEY_MARGIN` | `60s` | clock leeway and safety margin in the key timings (1s..1h) |
//! | `ISSUER_KEY_PREPUBLISH` | 2 × max-age + margin | how long a pending key is in the JWKS before it may sign (no less than the default) |
//! | `ISSUER_KEY_RETIRE_DELAY` | access TTL + margin + max-age | how long a key stays published after its successor activates (no less than the default) |
//! | `ISSUER_ADMIN_AUDIENCE` | `ISSUER_URL` | audience an access token for `/admin/keys` must carry |
//! | `ISSUER_BOOTSTRAP_FILE` | unset | demo users and clients created at start-up if missing (demo only, see [`bootstrap`]) |
//! | `ISSUER_LOGIN_MAX_FAILURES_PER_USER` | `5` | failures per window before 429 |
//! | `ISSUER_LOGIN_MAX_FAILURES_PER_IP` | `20` | failures per window before 429 |
//! | `ISSUER_LOGIN_FAILURE_WINDOW` | `5m` | sliding window |
//! | `ISSUER_WORKERS` | cores | HTTP worker threads |
//! | `ISSUER_MAX_CONNECTIONS` | `10000` | connections per worker |
//! | `ISSUER_DB_MAX_CONNECTIONS` | `8` | database pool size |
//! | `ISSUER_DB_ACQUIRE_TIMEOUT` | `5s` | a request waiting this long for a database connection is answered 503 (100ms..60s) |
//! | `ISSUER_DB_STATEMENT_TIMEOUT` | `10s` | PostgreSQL statement and lock timeout; a session idle in a transaction 4 times this long is ended (100ms..10m) |
//! | `ISSUER_DB_STARTUP_WAIT` | `30s` | how long `serve` retries a database it cannot reach at start-up (0..10m) |
//! | `ISSUER_PASSWORD_HASH_CONCURRENCY` | cores | concurrent Argon2 jobs, 19 MiB each (1..256) |
//! | `ISSUER_PASSWORD_QUEUE` | `64` | logins waiting for an Argon2 job before 503 (0..100000) |
//! | `ISSUER_PASSWORD_QUEUE_TIMEOUT` | `5s` | longest wait for an Argon2 job before 503 (10ms..60s) |
//! | `ISSUER_LOG_FORMAT` / `LOG_FORMAT` | text | `json` for one object per line |
//!
//! A value that is set but unusable stops start-up with a message naming the
//! variable. Tests build [`Config`] directly (it has a `Default`) or through
//! [`Config::from_reader`] with `service_kit::config::EnvReader::from_map`.
//!
//! # Clients, users, scopes and audiences
//!
//! - Every grant needs a registered client. A confidential client (with a
//!   secret) authenticates with HTTP Basic (RFC 6749 section 2.3.1) or
//!   `client_id` + `client_secret` form fields; a public client (registered
//!   with `--public`) sends only `client_id` and may use only the password
//!   grant. Secrets are 256-bit random base64url strings; only their SHA-256
//!   is stored, compared in constant time.
//! - A client has a list of scopes and audiences. A user may have their own
//!   lists (`--scope`, `--audience`); when present they narrow what the
//!   client allows, when absent the user may receive whatever the client may.
//! - `scope` and `audience` requests are space-separated; asking for anything
//!   outside the allowed set is `invalid_scope`. Without a request the token
//!   carries everything allowed. A token always has at least one audience.
//!
//! # Refresh tokens, revocation, introspection
//!
//! The password grant also returns a refresh token (client_credentials does
//! not): 256 random bits, base64url, stored only as its SHA-256, in a family
//! (one per login, a "session"). `grant_type=refresh_token` returns a new
//! access token and a new refresh token and retires the presented one;
//! `scope`/`audience` may narrow, never widen, what the login granted. The
//! token is bound to its client. Presenting a retired token again revokes
//! the family (`refresh_reuse_detected`), except for the immediate
//! predecessor within `ISSUER_REFRESH_GRACE`, which gets the same successor
//! again. Disabling or deleting a user (`issuer users disable|delete`)
//! revokes their families, and a refresh for such a user fails.
//! `issuer sessions list [--user NAME]` and `issuer sessions revoke ID`
//! manage families. See [`domain::refresh`].
//!
//! Cookie mode (`ISSUER_REFRESH_COOKIE=true`, for browser clients): the
//! refresh token is set in the `issuer_refresh` cookie (`HttpOnly; Secure;
//! SameSite=Strict; Path=/oauth2`) instead of the response body; the
//! refresh grant and `/oauth2/revoke` read it when the form has none, and
//! such requests must send `X-Requested-With: fetch` (CSRF defence) or get
//! 400 `invalid_request`.
//!
//! `POST /oauth2/revoke` (RFC 7009) revokes the family of a refresh token:
//! that is logout. It answers 200 for unknown tokens and for other clients'
//! tokens (left alone). Access tokens are self-contained and cannot be
//! recalled: they stay valid until they expire, so keep
//! `ISSUER_ACCESS_TOKEN_TTL` short. `POST /oauth2/introspect` (RFC 7662)
//! answers confidential clients only; see [`routes::introspect`].
//!
//! # Keys
//!
//! The first start creates the active key and a pending successor that
//! activates one rotation period later (`ISSUER_KEY_ROTATION_PERIOD`), so it
//! is in the JWKS long before it signs. At `activate_at` every instance
//! switches by its own clock; the previous key stays published as
//! `retiring` for the access-token lifetime + 60 s + the JWKS max-age, then
//! is retired and its private key destroyed. `kid` is the RFC 7638
//! thumbprint. `issuer keys list` shows the states.
//!
//! Start-up refuses timings that could let a resource service meet an
//! unknown `kid` (pre-publication lead below 2 × JWKS max-age + margin, or a
//! rotation period shorter than it) or lose a key whose tokens still live
//! (retirement delay below access TTL + margin + max-age). The JWKS
//! `max-age` shrinks to the time left before the next transition. Every
//! instance compares the key states in the store with its own each second
//! and reloads the key set when they differ
//! ([`lifecycle::KEY_SYNC_INTERVAL`]).
//!
//! Planned rotation (`issuer keys rotate`, `POST /admin/keys/rotate`): the
//! pending key activates as soon as it has been published for the
//! pre-publication lead (now, if it has), and a new pending key is created.
//! A second request while one is under way answers 409. Emergency rotation
//! (`issuer keys revoke KID`, `POST /admin/keys/{kid}/revoke`): the key is
//! revoked at once (out of this instance's JWKS immediately, others within
//! their 1 s key sync; private key destroyed); if it was active the
//! pending key is promoted now; refresh-token families with a token issued
//! under it are revoked; the answer gives `caches_drop_within` (the JWKS
//! max-age plus the key sync: the longest any resource service may keep
//! it). Revoking a key
//! already retired or revoked, or the active key with no pending successor,
//! answers 409. Each change is one locked transaction (`BEGIN IMMEDIATE` on
//! SQLite, a table lock on PostgreSQL) that re-checks the state, and writes
//! an audit event (`key_rotated`, `key_revoked`) with the request id.
//! Tokens signed per key are counted in memory and flushed to
//! `signing_keys.signed_count` every minute, at shutdown and before
//! `GET /admin/keys` answers.
//!
//! # Security notes
//!
//! - All cryptography is aws-lc-rs: RSA generation, constant-time RS256
//!   signing, AES-256-GCM, randomness. The `rsa` crate is deliberately not a
//!   dependency (RUSTSEC-2023-0071, non-constant-time private-key
//!   operations; aws-lc-rs also covers generation and PKCS#8 encoding).
//! - Private keys are stored only encrypted (AES-256-GCM under the KEK,
//!   random 96-bit nonce, AAD = kid); the parsed key stays in memory.
//! - Passwords: Argon2id PHC with default parameters, verified by a fixed
//!   pool of threads with reusable memory and a bounded, timed queue (503
//!   when full); unknown users cost the same as wrong
//!   passwords and get a byte-identical `invalid_grant` body. Failed logins
//!   are throttled per username and per client IP (peer address; no proxy
//!   headers are trusted), counted in the database and so shared by every
//!   instance on it; when the counts cannot be read or written the login
//!   is refused with 503 (fail closed).

pub mod audit;
pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod form;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod password;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod throttle;

pub use config::Config;
pub use startup::Application;
pub use state::AppState;
