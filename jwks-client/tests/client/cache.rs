//! Key cache behaviour against a real HTTP server.

use std::time::{Duration, Instant};

use jwks_client::{CacheSettings, HttpSettings, IssuerConfig, Verifier, VerifyError};
use tokio::task::JoinSet;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_with_1000_concurrent_verifications_fetches_once() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    server.set(|s| s.delay = Duration::from_millis(200));
    let verifier = verifier_for(&server, fast_cache());
    let token = token(&KEYS[0], &issuer_of(&server));
    let mut tasks = JoinSet::new();
    for _ in 0..1000 {
        let (v, t) = (verifier.clone(), token.clone());
        tasks.spawn(async move { v.verify(&t).await });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        assert!(r.expect("join").is_ok());
        ok += 1;
    }
    assert_eq!(ok, 1000);
    assert_eq!(server.jwks_hits(), 1);
    assert_eq!(verifier.metrics().fetch_ok, 1);
}

#[tokio::test]
async fn rotation_is_picked_up_and_removed_keys_stop_verifying() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    server.set(|s| s.cache_control = Some("max-age=0".into()));
    // Lifetime 300 ms (min_ttl), cooldown short enough to allow the forced refresh.
    let cache = CacheSettings {
        min_ttl: Duration::from_millis(300),
        unknown_kid_cooldown: Duration::from_millis(50),
        ..fast_cache()
    };
    let verifier = verifier_for(&server, cache);
    let iss = issuer_of(&server);
    let (old, new) = (token(&KEYS[0], &iss), token(&KEYS[1], &iss));
    assert!(verifier.verify(&old).await.is_ok());

    // A new key appears: the unknown kid forces one refresh and verifies.
    server.set(|s| s.jwks = jwks(&[&KEYS[0], &KEYS[1]]));
    assert!(verifier.verify(&new).await.is_ok());
    assert_eq!(verifier.metrics().unknown_kid_refreshes, 1);

    // The old key is withdrawn: after the next scheduled refresh it fails.
    server.set(|s| s.jwks = jwks(&[&KEYS[1]]));
    let before = server.jwks_hits();
    assert!(eventually(Duration::from_secs(2), || server.jwks_hits() > before).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        verifier.verify(&old).await.err(),
        Some(VerifyError::UnknownKid)
    );
    assert!(verifier.verify(&new).await.is_ok());
    assert_eq!(verifier.health()[0].key_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_flood_costs_at_most_one_fetch_per_cooldown() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    // Every fetch takes 300 ms: anything that waited for one would show.
    server.set(|s| s.delay = Duration::from_millis(300));
    let verifier = verifier_for(&server, fast_cache());
    let iss = issuer_of(&server);
    verifier.prefetch().await.expect("prefetch");
    assert_eq!(server.jwks_hits(), 1);

    let good = token(&KEYS[0], &iss);
    let mut flood = JoinSet::new();
    for i in 0..1000 {
        let v = verifier.clone();
        let t = forged_with_kid(&format!("random-{i}-{}", i * 7919), &iss);
        flood.spawn(async move { v.verify(&t).await });
    }
    // Meanwhile a token with a known key keeps verifying, quickly.
    for _ in 0..50 {
        let started = Instant::now();
        assert!(verifier.verify(&good).await.is_ok());
        assert!(
            started.elapsed() < Duration::from_millis(150),
            "known key delayed"
        );
    }
    while let Some(r) = flood.join_next().await {
        assert_eq!(r.expect("join").err(), Some(VerifyError::UnknownKid));
    }
    assert!(server.jwks_hits() <= 2, "fetches: {}", server.jwks_hits());
    let m = verifier.metrics();
    assert_eq!(m.unknown_kid_refreshes, 1);
    assert!(m.cooldown_rejections > 0);
    // Still inside the cooldown: fails fast without a fetch.
    let started = Instant::now();
    let t = token_with_kid(&KEYS[0], "yet-another", &iss);
    assert_eq!(
        verifier.verify(&t).await.err(),
        Some(VerifyError::UnknownKid)
    );
    assert!(started.elapsed() < Duration::from_millis(150));
    assert!(server.jwks_hits() <= 2);
}

/// Every way the issuer can fail.
fn failures() -> Vec<(&'static str, Mode)> {
    vec![
        ("500", Mode::Status(500)),
        ("stall", Mode::Stall),
        ("invalid json", Mode::InvalidJson),
        ("oversized", Mode::Oversized(1024 * 1024)),
        ("redirect", Mode::Redirect),
    ]
}

#[tokio::test]
async fn outages_serve_the_last_good_set_within_the_stale_period() {
    for (name, mode) in failures().into_iter().chain([("refused", Mode::Normal)]) {
        let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
        server.set(|s| s.cache_control = Some("max-age=0".into()));
        let cache = CacheSettings {
            min_ttl: Duration::from_millis(200),
            ..fast_cache()
        };
        let verifier = verifier_for(&server, cache);
        let t = token(&KEYS[0], &issuer_of(&server));
        verifier.prefetch().await.expect("prefetch");
        if name == "refused" {
            server.stop();
        } else {
            server.set(|s| s.mode = mode.clone());
        }
        // Past the lifetime: refreshes fail, the stale set still verifies.
        assert!(
            eventually(Duration::from_secs(3), || verifier.metrics().fetch_error
                > 0)
            .await,
            "{name}: no failed fetch"
        );
        let started = Instant::now();
        assert!(verifier.verify(&t).await.is_ok(), "{name}");
        assert!(
            started.elapsed() < Duration::from_millis(300),
            "{name}: request waited"
        );
        let m = verifier.metrics();
        assert!(m.stale_serves > 0, "{name}");
        let h = &verifier.health()[0];
        assert!(h.stale && h.ready && h.key_count == 1, "{name}: {h:?}");
        if name == "redirect" {
            assert_eq!(server.hits("/moved"), 0, "redirect followed");
        }
    }
}

#[tokio::test]
async fn cold_cache_with_issuer_down_is_unavailable_within_the_timeout() {
    for (name, mode) in failures() {
        let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
        server.set(|s| s.mode = mode.clone());
        let verifier = verifier_for(&server, fast_cache());
        let t = token(&KEYS[0], &issuer_of(&server));
        let started = Instant::now();
        let err = verifier.verify(&t).await.err();
        assert_eq!(err, Some(VerifyError::KeysUnavailable), "{name}");
        assert!(err.is_some_and(|e| e.is_unavailable()));
        assert!(
            started.elapsed() < fast_http().timeout + Duration::from_millis(300),
            "{name}"
        );
        assert!(!verifier.health()[0].ready);
        assert_eq!(verifier.metrics().fetch_error, 1, "{name}");
        if name == "redirect" {
            assert_eq!(server.hits("/moved"), 0);
        }
    }
    // Connection refused: a port nobody listens on.
    let server = JwksServer::start(String::new()).await;
    server.stop();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let verifier = verifier_for(&server, fast_cache());
    let started = Instant::now();
    let t = token(&KEYS[0], &issuer_of(&server));
    assert_eq!(
        verifier.verify(&t).await.err(),
        Some(VerifyError::KeysUnavailable)
    );
    assert!(started.elapsed() < fast_http().timeout);
    // Within the back-off: no new attempt, still unavailable, fast.
    assert!(verifier.prefetch().await.is_err());
}

#[tokio::test]
async fn max_age_is_honoured_within_the_clamps() {
    let cases = [
        // (Cache-Control, min_ttl, max_ttl, no refetch before, refetch by)
        ("max-age=1", 100, 10_000, 700, 1_600),
        ("max-age=3600", 100, 400, 250, 1_000),
        ("max-age=0", 800, 10_000, 600, 1_400),
        ("public, max-age=1", 100, 10_000, 700, 1_600),
    ];
    let mut running = JoinSet::new();
    for (cc, min, max, quiet, by) in cases {
        running.spawn(async move {
            let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
            server.set(|s| s.cache_control = Some(cc.into()));
            let cache = CacheSettings {
                min_ttl: Duration::from_millis(min),
                max_ttl: Duration::from_millis(max),
                ..fast_cache()
            };
            let verifier = verifier_for(&server, cache);
            verifier.prefetch().await.expect("prefetch");
            tokio::time::sleep(Duration::from_millis(quiet)).await;
            assert_eq!(server.jwks_hits(), 1, "{cc}: refetched too early");
            assert!(!verifier.health()[0].stale);
            assert!(
                eventually(Duration::from_millis(by - quiet), || server.jwks_hits()
                    >= 2)
                .await,
                "{cc}: not refetched"
            );
        });
    }
    while let Some(r) = running.join_next().await {
        r.expect("case");
    }
}

#[tokio::test]
async fn default_ttl_applies_without_max_age() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let cache = CacheSettings {
        default_ttl: Duration::from_millis(300),
        ..fast_cache()
    };
    let verifier = verifier_for(&server, cache);
    verifier.prefetch().await.expect("prefetch");
    assert!(eventually(Duration::from_secs(1), || server.jwks_hits() >= 2).await);
}

#[tokio::test]
async fn not_modified_extends_the_lifetime() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    server.set(|s| {
        s.etag = Some("\"v1\"".into());
        s.cache_control = Some("max-age=0".into());
    });
    let cache = CacheSettings {
        min_ttl: Duration::from_millis(300),
        ..fast_cache()
    };
    let verifier = verifier_for(&server, cache);
    let t = token(&KEYS[0], &issuer_of(&server));
    assert!(verifier.verify(&t).await.is_ok());
    assert!(
        eventually(Duration::from_secs(2), || verifier
            .metrics()
            .fetch_not_modified
            >= 2)
        .await
    );
    let seen = server.state.lock().expect("lock").if_none_match.clone();
    assert_eq!(seen[0], None);
    assert_eq!(seen[1].as_deref(), Some("\"v1\""));
    assert_eq!(verifier.metrics().fetch_ok, 1);
    assert!(verifier.verify(&t).await.is_ok());
    let h = &verifier.health()[0];
    assert!(!h.stale && h.ready && h.key_count == 1, "{h:?}");
}

#[tokio::test]
async fn unknown_issuer_is_rejected_without_a_network_call() {
    let a = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let b = JwksServer::start(jwks(&[&KEYS[1]])).await;
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(issuer_of(&a))
                .jwks_url(a.jwks_url())
                .audiences([AUD]),
        )
        .issuer(
            IssuerConfig::new(issuer_of(&b))
                .jwks_url(b.jwks_url())
                .audiences([AUD]),
        )
        .cache(fast_cache())
        .http(fast_http())
        .build()
        .expect("build");
    let stranger = token(&KEYS[0], "https://evil.example");
    assert_eq!(
        verifier.verify(&stranger).await.err(),
        Some(VerifyError::UnknownIssuer)
    );
    assert_eq!(a.total_hits() + b.total_hits(), 0);
    // Each issuer only trusts its own keys.
    assert!(
        verifier
            .verify(&token(&KEYS[0], &issuer_of(&a)))
            .await
            .is_ok()
    );
    assert!(
        verifier
            .verify(&token(&KEYS[1], &issuer_of(&b)))
            .await
            .is_ok()
    );
    assert_eq!(
        verifier
            .verify(&token(&KEYS[1], &issuer_of(&a)))
            .await
            .err(),
        Some(VerifyError::UnknownKid)
    );
    assert_eq!(verifier.health().len(), 2);
}

#[tokio::test]
async fn discovery_checks_the_issuer_and_falls_back_to_rfc_8414() {
    // OpenID Connect discovery.
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let iss = issuer_of(&server);
    let doc = serde_json::json!({"issuer": iss, "jwks_uri": server.jwks_url()}).to_string();
    server.set(|s| {
        s.routes.insert(
            "/.well-known/openid-configuration".into(),
            (200, doc.clone()),
        );
    });
    let verifier = discovering(&iss);
    assert!(verifier.verify(&token(&KEYS[0], &iss)).await.is_ok());
    assert_eq!(verifier.metrics().discovery_ok, 1);

    // RFC 8414 only.
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let iss = issuer_of(&server);
    let doc = serde_json::json!({"issuer": iss, "jwks_uri": server.jwks_url()}).to_string();
    server.set(|s| {
        s.routes.insert(
            "/.well-known/oauth-authorization-server".into(),
            (200, doc.clone()),
        );
    });
    let verifier = discovering(&iss);
    assert!(verifier.verify(&token(&KEYS[0], &iss)).await.is_ok());
    assert_eq!(server.hits("/.well-known/openid-configuration"), 1);

    // A document naming another issuer is refused; its JWKS is never fetched.
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let iss = issuer_of(&server);
    let doc = serde_json::json!({"issuer": "https://other.example", "jwks_uri": server.jwks_url()})
        .to_string();
    server.set(|s| {
        s.routes.insert(
            "/.well-known/openid-configuration".into(),
            (200, doc.clone()),
        );
    });
    let verifier = discovering(&iss);
    assert_eq!(
        verifier.verify(&token(&KEYS[0], &iss)).await.err(),
        Some(VerifyError::KeysUnavailable)
    );
    assert_eq!(server.jwks_hits(), 0);
}

fn discovering(iss: &str) -> Verifier {
    Verifier::builder()
        .issuer(IssuerConfig::new(iss).audiences([AUD]))
        .cache(fast_cache())
        .http(fast_http())
        .build()
        .expect("build")
}

#[tokio::test]
async fn bad_members_are_skipped_and_counted() {
    let good = &KEYS[0];
    let mut members: Vec<serde_json::Value> = vec![serde_json::to_value(&good.jwk).expect("jwk")];
    let base = serde_json::to_value(&KEYS[1].jwk).expect("jwk");
    let variant = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    members.push(variant(&|v| v["kty"] = "EC".into()));
    members.push(variant(&|v| v["use"] = "enc".into()));
    members.push(variant(&|v| v["key_ops"] = serde_json::json!(["encrypt"])));
    members.push(variant(&|v| v["alg"] = "HS256".into()));
    members.push(variant(&|v| {
        v.as_object_mut().map(|o| o.remove("kid"));
    }));
    members.push(variant(&|v| v["e"] = b64([3u8]).into()));
    members.push(variant(&|v| v["e"] = b64([1u8, 0, 0]).into()));
    members.push(variant(&|v| v["n"] = b64([0xC5u8; 128]).into()));
    members.push(variant(&|v| v["n"] = "not base64!".into()));
    members.push(variant(&|v| v["n"] = serde_json::json!(42)));
    members.push(variant(&|v| v["d"] = "secret".into()));
    members.push(serde_json::json!("not an object"));
    members.push(variant(&|v| v["kid"] = good.kid().into()));
    let skipped = members.len() as u64 - 1;
    let doc = serde_json::json!({ "keys": members }).to_string();
    let server = JwksServer::start(doc).await;
    let verifier = verifier_for(&server, fast_cache());
    assert!(
        verifier
            .verify(&token(good, &issuer_of(&server)))
            .await
            .is_ok()
    );
    assert_eq!(verifier.metrics().skipped_keys, skipped);
    assert_eq!(verifier.health()[0].key_count, 1);
}

#[tokio::test]
async fn result_cache_hits_and_purges_removed_keys() {
    let server = JwksServer::start(jwks(&[&KEYS[0], &KEYS[1]])).await;
    server.set(|s| s.cache_control = Some("max-age=0".into()));
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(issuer_of(&server))
                .jwks_url(server.jwks_url())
                .audiences([AUD]),
        )
        .cache(CacheSettings {
            min_ttl: Duration::from_millis(300),
            ..fast_cache()
        })
        .http(fast_http())
        .result_cache(100)
        .build()
        .expect("build");
    let t = token(&KEYS[0], &issuer_of(&server));
    let first = verifier.verify(&t).await.expect("verify");
    let second = verifier.verify(&t).await.expect("verify");
    assert!(std::sync::Arc::ptr_eq(&first, &second));
    let m = verifier.metrics();
    assert_eq!((m.result_cache_hits, m.result_cache_misses), (1, 1));
    // The key leaves the set: the cached result must not survive it.
    server.set(|s| s.jwks = jwks(&[&KEYS[1]]));
    let before = server.jwks_hits();
    assert!(eventually(Duration::from_secs(2), || server.jwks_hits() > before).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        verifier.verify(&t).await.err(),
        Some(VerifyError::UnknownKid)
    );
}

#[tokio::test]
async fn insecure_urls_are_refused_at_build_time() {
    let build = |iss: &str, http: HttpSettings| {
        Verifier::builder()
            .issuer(IssuerConfig::new(iss).audiences([AUD]))
            .http(http)
            .build()
    };
    assert!(build("http://issuer.internal:8080", HttpSettings::default()).is_err());
    let private = HttpSettings {
        allow_insecure_http: true,
        ..HttpSettings::default()
    };
    assert!(build("http://issuer.internal:8080", private).is_ok());
    assert!(build("http://127.0.0.1:8080", HttpSettings::default()).is_ok());
    assert!(build("https://issuer.example", HttpSettings::default()).is_ok());
    assert!(
        Verifier::builder()
            .issuer(IssuerConfig::new("https://issuer.example"))
            .build()
            .is_err(),
        "no audience"
    );
}
