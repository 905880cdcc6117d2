//! Hostile input through HTTP. Every answer is 400/401/403/413/431, never a
//! 5xx, and never echoes the token.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::forge::{Key, hostile_tokens};

use crate::helpers::{TestResource, challenge, resource_settings, spawn_issuer, spawn_resource};

/// A token issuer the test controls completely: its key signs whatever the
/// test asks, and it counts requests that are not for its keys (a `jku` or
/// `x5u` target must receive none).
struct Forge {
    url: String,
    key: Key,
    stray_requests: Arc<AtomicUsize>,
}

impl Forge {
    async fn start() -> Forge {
        let key = Key::generate();
        let stray_requests = Arc::new(AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (doc, jwks) = (
            json!({ "issuer": url, "jwks_uri": format!("{url}/jwks.json") }),
            json!({ "keys": [key.jwk] }),
        );
        let stray = stray_requests.clone();
        let server = HttpServer::new(move || {
            let (doc, jwks, stray) = (doc.clone(), jwks.clone(), stray.clone());
            App::new()
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(move || {
                        let doc = doc.clone();
                        async move { HttpResponse::Ok().json(doc) }
                    }),
                )
                .route(
                    "/jwks.json",
                    web::get().to(move || {
                        let jwks = jwks.clone();
                        async move { HttpResponse::Ok().json(jwks) }
                    }),
                )
                .default_service(web::to(move || {
                    stray.fetch_add(1, Ordering::SeqCst);
                    async { HttpResponse::Ok().json(json!({ "keys": [] })) }
                }))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Forge {
            url,
            key,
            stray_requests,
        }
    }

    fn kid(&self) -> &str {
        self.key.kid()
    }

    fn header(&self) -> Value {
        json!({ "alg": "RS256", "typ": "at+jwt", "kid": self.kid() })
    }

    fn claims(&self) -> Value {
        let now = shared::now_unix();
        json!({
            "iss": self.url, "sub": "mallory", "aud": "orders", "exp": now + 600,
            "iat": now, "nbf": now, "jti": "j1", "client_id": "cli", "scope": "items:read",
        })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        self.key.sign(header, claims)
    }
}

/// Sends `token` and checks the answer is a clean refusal that echoes nothing.
async fn assert_refused(service: &TestResource, case: &str, token: &str) {
    let sent = service
        .http
        .get(format!("{}/v1/me", service.url))
        .bearer_auth(token)
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        // For a header far over the limit actix may answer 431 or close the
        // connection while the client is still writing: both are refusals.
        Err(e) if token.len() > 64 * 1024 => {
            assert!(e.is_request(), "{case}: {e}");
            return;
        }
        Err(e) => panic!("{case}: {e}"),
    };
    let status = res.status();
    let www = challenge(&res);
    let body = res.text().await.unwrap_or_default();
    assert!(
        [400, 401, 403, 413, 431].contains(&status.as_u16()),
        "{case}: status {status}"
    );
    if status == StatusCode::UNAUTHORIZED {
        assert!(www.contains("error=\"invalid_token\""), "{case}: {www}");
    }
    let tail = &token[token.len().saturating_sub(16)..];
    assert!(
        !body.contains(tail) && !www.contains(tail),
        "{case}: token echoed"
    );
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_each_refused() {
    let forge = Forge::start().await;
    let mut settings = resource_settings(&forge.url, "orders");
    settings.jwks_url = Some(format!("{}/jwks.json", forge.url));
    let orders = spawn_resource(settings).await;

    let good = forge.sign(&forge.header(), &forge.claims());
    assert_eq!(
        orders.get("/v1/me", Some(&good)).await.status(),
        StatusCode::OK,
        "control"
    );

    let attacker = Forge::start().await;
    let stray_target = format!("{}/keys", attacker.url);
    // The test kit's one table: forged algorithms and keys, `jku`/`x5u`,
    // `crit`, bad claims, duplicate members, non-canonical base64, 1 MB.
    let cases = hostile_tokens(&forge.key, &attacker.key, &forge.claims(), &stray_target);

    for (case, token) in &cases {
        assert_refused(&orders, case, token).await;
    }
    assert_eq!(
        attacker.stray_requests.load(Ordering::SeqCst),
        0,
        "jku/x5u were followed"
    );
    assert_eq!(forge.stray_requests.load(Ordering::SeqCst), 0);
    // The real token still works after all that.
    assert_eq!(
        orders.get("/v1/me", Some(&good)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn malformed_authorization_headers_are_bad_requests() {
    let issuer = spawn_issuer(Duration::from_secs(600)).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let token = issuer.token("bob", "items:read", "orders").await;
    let url = format!("{}/v1/me", orders.url);

    // The scheme is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let res = orders
            .http
            .get(&url)
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{scheme}");
    }
    for (case, value) in [
        ("scheme only", "Bearer".to_owned()),
        ("scheme and space", "Bearer ".to_owned()),
        ("two tokens", format!("Bearer {token} {token}")),
        ("illegal characters", "Bearer abc$def".to_owned()),
    ] {
        let res = orders
            .http
            .get(&url)
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{case}");
        assert!(
            challenge(&res).contains("error=\"invalid_request\""),
            "{case}"
        );
    }
    // The token sent twice: two headers, or header plus query parameter.
    let res = orders
        .http
        .get(&url)
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "two headers");
    let res = orders
        .http
        .get(format!("{url}?access_token={token}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "header and query");
    // Another scheme is no bearer credentials at all.
    let res = orders
        .http
        .get(&url)
        .basic_auth("bob", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), "Bearer realm=\"orders\"");
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_the_issuer_at_most_one_fetch() {
    let issuer = spawn_issuer(Duration::from_secs(600)).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let token = issuer.token("bob", "items:read", "orders").await;
    assert_eq!(
        orders.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    let before = issuer.jwks_fetches().await;
    assert!(
        before >= 1,
        "the issuer's metrics count the service's first fetch"
    );

    // Same claims and signature, a different random kid each time.
    let parts: Vec<&str> = token.split('.').collect();
    let mut statuses = Vec::new();
    for chunk in 0..20 {
        let batch = (0..50).map(|i| {
            let header = json!({"alg":"RS256","typ":"at+jwt","kid":format!("unknown-{chunk}-{i}-{}", shared::now_unix())});
            let forged = format!("{}.{}.{}", shared::b64::encode(header.to_string()), parts[1], parts[2]);
            let orders = &orders;
            async move { orders.get("/v1/me", Some(&forged)).await.status() }
        });
        statuses.extend(futures_util::future::join_all(batch).await);
        // A known key keeps verifying in the middle of the flood.
        assert_eq!(
            orders.get("/v1/me", Some(&token)).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(statuses.len(), 1000);
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    let fetched = issuer.jwks_fetches().await - before;
    assert!(
        fetched <= 1,
        "{fetched} JWKS fetches for 1,000 unknown kids inside one cooldown"
    );
}

#[tokio::test]
async fn huge_headers_and_bodies_are_refused_quickly_without_growing_memory() {
    let issuer = spawn_issuer(Duration::from_secs(600)).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let token = issuer.token("alice", "items:write", "orders").await;
    let rss_before = rss_kib();

    for _ in 0..5 {
        let started = Instant::now();
        let res = orders
            .http
            .get(format!("{}/v1/me", orders.url))
            .header("x-padding", "a".repeat(1 << 20))
            .send()
            .await;
        // actix answers 431 or closes the connection; both are refusals.
        if let Ok(res) = res {
            assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
        assert!(started.elapsed() < Duration::from_secs(5));

        let started = Instant::now();
        let res = orders
            .http
            .post(format!("{}/v1/items", orders.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(vec![b' '; 10 << 20])
            .send()
            .await;
        if let Ok(res) = res {
            assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
            let body = res.text().await.unwrap_or_default();
            assert!(!body.contains(&token));
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let grown = rss_kib().saturating_sub(rss_before);
    // Five 10 MB bodies and five 1 MB headers were sent; none was buffered whole.
    assert!(grown < 24 * 1024, "RSS grew by {grown} KiB");
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn item_bodies_are_validated() {
    let issuer = spawn_issuer(Duration::from_secs(600)).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let token = issuer.token("alice", "items:write", "orders").await;
    let post = |body: String| {
        orders
            .http
            .post(format!("{}/v1/items", orders.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in [
        "not json".to_owned(),
        r#"{"name":""}"#.to_owned(),
        r#"{"name":7}"#.to_owned(),
        r#"{"name":"x","admin":true}"#.to_owned(),
        format!(r#"{{"name":"{}"}}"#, "n".repeat(101)),
    ] {
        let res = post(body.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["error"], "invalid_request");
    }
    assert_eq!(
        post(r#"{"name":"ok"}"#.into()).await.unwrap().status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_json_404_and_405_without_echo() {
    let issuer = spawn_issuer(Duration::from_secs(600)).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let token = issuer.token("alice", "items:write", "orders").await;
    let cases = [
        ("GET", "/xyzzy", 404, None),
        ("GET", "/v1/xyzzy?q=<script>", 404, None),
        ("POST", "/v1/me/xyzzy", 404, None),
        ("DELETE", "/v1/items", 405, Some("GET, POST")),
        ("PUT", "/v1/me", 405, Some("GET")),
        ("POST", "/v1/public", 405, Some("GET")),
        ("POST", "/healthz", 405, Some("GET")),
    ];
    for (method, path, status, allow) in cases {
        let res = orders
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", orders.url),
            )
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let case = format!("{method} {path}");
        assert_eq!(res.status().as_u16(), status, "{case}");
        assert_eq!(res.headers()["content-type"], "application/json", "{case}");
        assert_eq!(
            res.headers().get("allow").and_then(|v| v.to_str().ok()),
            allow,
            "{case}"
        );
        let body = res.text().await.unwrap();
        let json: Value = serde_json::from_str(&body).unwrap();
        let code = if status == 404 {
            "not_found"
        } else {
            "method_not_allowed"
        };
        assert_eq!(json["error"], code, "{case}: {body}");
        assert!(json["error_description"].is_string(), "{case}: {body}");
        assert!(
            !body.contains("xyzzy") && !body.contains(&path[1..]) && !body.contains(method),
            "{case}: {body}"
        );
        assert!(!body.contains(&token), "{case}");
    }
}
