//! Test helpers: RSA keys generated once per binary, token signing, and a
//! tiny HTTP/1.1 JWKS server on 127.0.0.1:0 whose answers each test sets.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use aws_lc_rs::signature;
use jwks_client::{CacheSettings, HttpSettings, IssuerConfig, LocalKeys, Verifier};
use serde_json::{Value, json};
use shared::jwk::Jwks;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const AUD: &str = "orders";

/// An RSA-2048 key pair with its public JWK (kid = RFC 7638 thumbprint),
/// from the test kit's forge.
pub use testkit::forge::Key as TestKey;
pub use testkit::forge::{b64, header, sign_raw};

/// Three keys, generated once (about 100 ms each).
pub use testkit::forge::KEYS;

pub fn now() -> i64 {
    shared::now_unix()
}

/// A valid claim set for `iss`.
pub fn claims(iss: &str) -> Value {
    json!({
        "iss": iss,
        "sub": "user-1",
        "aud": AUD,
        "exp": now() + 600,
        "iat": now(),
        "nbf": now(),
        "jti": "j1",
        "client_id": "cli",
        "scope": "items:read profile",
        "roles": ["admin"],
    })
}

/// A valid RS256 access token from `key` for `iss`.
pub fn token(key: &TestKey, iss: &str) -> String {
    sign_raw(
        key,
        &header(key.kid()).to_string(),
        &claims(iss).to_string(),
        &signature::RSA_PKCS1_SHA256,
    )
}

/// A token naming `kid` whose signature is some valid-looking RSA signature
/// (cheap: no signing; only for tokens that must fail before verification).
pub fn forged_with_kid(kid: &str, iss: &str) -> String {
    static SIG: LazyLock<String> = LazyLock::new(|| {
        let t = token(&KEYS[0], "x");
        t.rsplit('.').next().unwrap_or_default().to_owned()
    });
    format!(
        "{}.{}.{}",
        b64(header(kid).to_string()),
        b64(claims(iss).to_string()),
        *SIG
    )
}

/// A token with an arbitrary `kid` (signed by `key`).
pub fn token_with_kid(key: &TestKey, kid: &str, iss: &str) -> String {
    sign_raw(
        key,
        &header(kid).to_string(),
        &claims(iss).to_string(),
        &signature::RSA_PKCS1_SHA256,
    )
}

pub fn jwks(keys: &[&TestKey]) -> String {
    serde_json::to_string(&Jwks::from_keys(keys.iter().map(|k| &k.jwk))).expect("json")
}

/// How the server answers JWKS requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Status(u16),
    /// Accept, read the request, never answer.
    Stall,
    InvalidJson,
    /// A body of this many bytes, without Content-Length.
    Oversized(usize),
    /// 302 to the same server's /jwks.
    Redirect,
}

#[derive(Debug)]
pub struct ServerState {
    pub jwks: String,
    pub etag: Option<String>,
    pub cache_control: Option<String>,
    pub mode: Mode,
    pub delay: Duration,
    /// Answer 304 when If-None-Match equals the ETag.
    pub honour_etag: bool,
    pub if_none_match: Vec<Option<String>>,
    /// Extra routes: path -> (status, body).
    pub routes: HashMap<String, (u16, String)>,
}

/// A JWKS server on 127.0.0.1:0. `/jwks` serves the key set; other paths
/// come from `routes`; every request is counted per path.
pub struct JwksServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<ServerState>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(jwks: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(ServerState {
            jwks,
            etag: None,
            cache_control: None,
            mode: Mode::Normal,
            delay: Duration::ZERO,
            honour_etag: true,
            if_none_match: Vec::new(),
            routes: HashMap::new(),
        }));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let total = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn({
            let (state, hits, total) = (state.clone(), hits.clone(), total.clone());
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (state, hits, total) = (state.clone(), hits.clone(), total.clone());
                    tokio::spawn(async move {
                        let _ = serve(stream, addr, state, hits, total).await;
                    });
                }
            }
        });
        JwksServer {
            addr,
            state,
            hits,
            total,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.url())
    }

    /// Requests to `/jwks`.
    pub fn jwks_hits(&self) -> usize {
        self.hits("/jwks")
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests to any path.
    pub fn total_hits(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    pub fn set(&self, f: impl FnOnce(&mut ServerState)) {
        f(&mut self.state.lock().expect("lock"));
    }

    /// Stops listening: new connections are refused.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    addr: SocketAddr,
    state: Arc<Mutex<ServerState>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 16 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let if_none_match = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("if-none-match"))
        .map(|(_, v)| v.trim().to_owned());
    total.fetch_add(1, Ordering::SeqCst);
    *hits.lock().expect("lock").entry(path.clone()).or_default() += 1;

    let (delay, response) = {
        let mut st = state.lock().expect("lock");
        if path == "/jwks" {
            st.if_none_match.push(if_none_match.clone());
        }
        (
            st.delay,
            respond(&st, &path, if_none_match.as_deref(), addr),
        )
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match response {
        Response::Stall => {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Response::Bytes(bytes) => stream.write_all(&bytes).await?,
        Response::Stream(head, size) => {
            stream.write_all(&head).await?;
            let block = vec![b' '; 16 * 1024];
            let mut sent = 0;
            while sent < size {
                stream.write_all(&block).await?;
                sent += block.len();
            }
        }
    }
    stream.shutdown().await
}

enum Response {
    Stall,
    Bytes(Vec<u8>),
    Stream(Vec<u8>, usize),
}

fn respond(
    st: &ServerState,
    path: &str,
    if_none_match: Option<&str>,
    addr: SocketAddr,
) -> Response {
    if path != "/jwks" {
        return match st.routes.get(path) {
            Some((status, body)) => Response::Bytes(http(*status, &[], body)),
            None => Response::Bytes(http(404, &[], "not found")),
        };
    }
    let mut headers: Vec<(&str, String)> = vec![("Content-Type", "application/json".into())];
    if let Some(cc) = &st.cache_control {
        headers.push(("Cache-Control", cc.clone()));
    }
    if let Some(etag) = &st.etag {
        headers.push(("ETag", etag.clone()));
    }
    match &st.mode {
        Mode::Normal => {
            if st.honour_etag && st.etag.is_some() && if_none_match == st.etag.as_deref() {
                return Response::Bytes(http(304, &headers, ""));
            }
            Response::Bytes(http(200, &headers, &st.jwks))
        }
        Mode::Status(code) => Response::Bytes(http(*code, &[], "{\"error\":\"down\"}")),
        Mode::Stall => Response::Stall,
        Mode::InvalidJson => Response::Bytes(http(200, &headers, "{\"keys\": [")),
        Mode::Oversized(size) => Response::Stream(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"keys\":[]"
                .to_vec(),
            *size,
        ),
        Mode::Redirect => Response::Bytes(http(
            302,
            &[("Location", format!("http://{addr}/moved"))],
            "",
        )),
    }
}

fn http(status: u16, headers: &[(&str, String)], body: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// Short timings for tests.
pub fn fast_cache() -> CacheSettings {
    CacheSettings {
        min_ttl: Duration::from_millis(100),
        max_ttl: Duration::from_secs(60),
        default_ttl: Duration::from_secs(60),
        unknown_kid_cooldown: Duration::from_secs(30),
        max_stale: Duration::from_secs(60),
        refresh_ahead: 0.0,
        error_backoff: Duration::from_millis(100),
    }
}

pub fn fast_http() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_millis(500),
        timeout: Duration::from_millis(700),
        max_body_bytes: 64 * 1024,
        allow_insecure_http: false,
    }
}

/// The issuer identifier used with a server: its base URL.
pub fn issuer_of(server: &JwksServer) -> String {
    server.url()
}

/// A verifier trusting `server` (explicit JWKS URL).
pub fn verifier_for(server: &JwksServer, cache: CacheSettings) -> Verifier {
    Verifier::builder()
        .issuer(
            IssuerConfig::new(issuer_of(server))
                .jwks_url(server.jwks_url())
                .audiences([AUD]),
        )
        .cache(cache)
        .http(fast_http())
        .build()
        .expect("build")
}

/// An in-memory key set holding `keys`.
pub fn local_keys(keys: &[&TestKey]) -> LocalKeys {
    let local = LocalKeys::new();
    local.replace(&Jwks::from_keys(keys.iter().map(|k| &k.jwk)));
    local
}

/// A verifier trusting `iss` with `keys` held in memory (never fetched).
pub fn local_verifier(iss: &str, keys: &[&TestKey]) -> Verifier {
    Verifier::builder()
        .issuer(
            IssuerConfig::new(iss)
                .audiences([AUD])
                .local_keys(local_keys(keys)),
        )
        .build()
        .expect("build")
}

/// Polls `cond` every 20 ms for up to `max`.
pub async fn eventually(max: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < max {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
