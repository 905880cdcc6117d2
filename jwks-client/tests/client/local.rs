//! Keys held in memory ([`LocalKeys`]): verified with the same pipeline as
//! fetched keys, replaced whole by their owner, never fetched.

use std::time::{Duration, Instant};

use jwks_client::{BuildError, IssuerConfig, LocalKeys, Verifier, VerifyError};
use serde_json::json;
use shared::jwk::Jwks;

use crate::support::*;

/// Signs `claims` with `KEYS[0]` under its own `kid`.
fn signed(claims: &serde_json::Value) -> String {
    sign_raw(
        &KEYS[0],
        &header(KEYS[0].kid()).to_string(),
        &claims.to_string(),
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
    )
}

#[tokio::test]
async fn a_token_signed_by_a_key_in_the_set_verifies_without_any_request() {
    // The issuer's own address serves nothing but counts requests.
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let iss = issuer_of(&server);
    let keys = local_keys(&[&KEYS[0], &KEYS[1]]);
    assert_eq!(keys.len(), 2);
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(iss.clone())
                .audiences([AUD])
                .local_keys(keys.clone()),
        )
        .build()
        .expect("build");
    verifier.prefetch().await.expect("a set is installed");
    for key in [&KEYS[0], &KEYS[1]] {
        let claims = verifier.verify(&token(key, &iss)).await.expect("valid");
        assert_eq!(claims.sub, "user-1");
        assert!(claims.has_scope("items:read"));
    }
    let health = verifier.health();
    assert_eq!(health[0].issuer, iss);
    assert_eq!(health[0].key_count, 2);
    assert!(health[0].ready && !health[0].stale);
    assert!(health[0].last_refresh.is_some());
    assert_eq!(server.total_hits(), 0, "local keys are never fetched");
    let m = verifier.metrics();
    assert_eq!((m.fetch_ok, m.fetch_error, m.discovery_ok), (0, 0, 0));
}

#[tokio::test]
async fn an_unknown_kid_fails_at_once_with_no_request() {
    let server = JwksServer::start(jwks(&[&KEYS[0], &KEYS[2]])).await;
    let iss = issuer_of(&server);
    let verifier = local_verifier(&iss, &[&KEYS[0]]);
    let started = Instant::now();
    for _ in 0..100 {
        assert_eq!(
            verifier.verify(&token(&KEYS[2], &iss)).await.err(),
            Some(VerifyError::UnknownKid)
        );
        assert_eq!(
            verifier
                .verify(&forged_with_kid("no-such-kid", &iss))
                .await
                .err(),
            Some(VerifyError::UnknownKid)
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.total_hits(), 0, "no refresh for an unknown kid");
    let m = verifier.metrics();
    assert_eq!(
        (m.unknown_kid_refreshes, m.fetch_ok, m.fetch_error),
        (0, 0, 0)
    );
    // A known kid right after still verifies.
    assert!(verifier.verify(&token(&KEYS[0], &iss)).await.is_ok());
}

#[tokio::test]
async fn before_the_first_replace_keys_are_unavailable() {
    let keys = LocalKeys::new();
    assert!(keys.is_empty());
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new("http://127.0.0.1:1")
                .audiences([AUD])
                .local_keys(keys.clone()),
        )
        .build()
        .expect("build");
    let t = token(&KEYS[0], "http://127.0.0.1:1");
    assert_eq!(
        verifier.verify(&t).await.err(),
        Some(VerifyError::KeysUnavailable)
    );
    assert_eq!(verifier.prefetch().await, Err(VerifyError::KeysUnavailable));
    assert!(!verifier.health()[0].ready);

    // An empty set is a set: the kid is unknown, not the keys unavailable.
    keys.replace(&Jwks::default());
    assert_eq!(verifier.prefetch().await, Ok(()));
    assert_eq!(
        verifier.verify(&t).await.err(),
        Some(VerifyError::UnknownKid)
    );

    keys.replace(&Jwks::from_keys([&KEYS[0].jwk]));
    assert!(verifier.verify(&t).await.is_ok());
    assert!(verifier.health()[0].ready);
}

#[tokio::test]
async fn after_a_replace_without_the_key_its_tokens_are_refused_cached_or_not() {
    let iss = "https://id.example";
    let keys = local_keys(&[&KEYS[0], &KEYS[1]]);
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(iss)
                .audiences([AUD])
                .local_keys(keys.clone()),
        )
        .result_cache(100)
        .build()
        .expect("build");
    let first = token(&KEYS[0], iss);
    let second = token(&KEYS[1], iss);
    for _ in 0..2 {
        assert!(verifier.verify(&first).await.is_ok());
        assert!(verifier.verify(&second).await.is_ok());
    }
    assert_eq!(verifier.metrics().result_cache_hits, 2, "cached results");

    // KEYS[0] leaves the set; KEYS[1] stays and keeps its cached result.
    assert_eq!(keys.replace(&Jwks::from_keys([&KEYS[1].jwk])), 1);
    assert_eq!(
        verifier.verify(&first).await.err(),
        Some(VerifyError::UnknownKid)
    );
    assert!(verifier.verify(&second).await.is_ok());
    let m = verifier.metrics();
    assert_eq!(m.result_cache_hits, 3, "only the kept key's result hit");

    // The same kid now names another key: the old result must not survive.
    let reused = {
        let mut jwk = KEYS[2].jwk.clone();
        jwk.kid = KEYS[1].jwk.kid.clone();
        jwk
    };
    keys.replace(&Jwks::from_keys([&reused]));
    assert_eq!(
        verifier.verify(&second).await.err(),
        Some(VerifyError::BadSignature)
    );
    assert_eq!(verifier.metrics().result_cache_hits, 3);
}

#[tokio::test]
async fn one_set_serves_several_verifiers_and_replaces_reach_all() {
    let iss = "https://id.example";
    let keys = local_keys(&[&KEYS[0]]);
    let build = |cfg: IssuerConfig| {
        Verifier::builder()
            .issuer(cfg.local_keys(keys.clone()))
            .result_cache(10)
            .build()
            .expect("build")
    };
    let orders = build(IssuerConfig::new(iss).audiences([AUD]));
    let any = build(IssuerConfig::new(iss).any_audience());
    let t = token(&KEYS[0], iss);
    for v in [&orders, &any] {
        assert!(v.verify(&t).await.is_ok());
        assert!(v.verify(&t).await.is_ok());
    }
    keys.replace_json(jwks(&[&KEYS[1]]).as_bytes())
        .expect("a JWKS document");
    for v in [&orders, &any] {
        assert_eq!(v.verify(&t).await.err(), Some(VerifyError::UnknownKid));
        assert!(v.verify(&token(&KEYS[1], iss)).await.is_ok());
    }
    // A document that is not a JWKS leaves the set alone.
    assert!(keys.replace_json(b"{\"keys\": [").is_err());
    assert!(orders.verify(&token(&KEYS[1], iss)).await.is_ok());
}

#[tokio::test]
async fn members_follow_the_key_rules_and_bad_ones_are_skipped() {
    let iss = "https://id.example";
    let mut short = KEYS[1].jwk.clone();
    short.n = Some(b64([0xC5u8; 128])); // 1024 bits
    short.kid = Some("short".into());
    let private =
        json!({"kty": "RSA", "kid": "private", "n": KEYS[2].jwk.n, "e": "AQAB", "d": "AQAB"});
    let jwks = Jwks {
        keys: vec![
            serde_json::to_value(&KEYS[0].jwk).expect("jwk"),
            serde_json::to_value(&short).expect("jwk"),
            private,
            json!({"kty": "EC", "kid": "ec", "crv": "P-256"}),
            serde_json::to_value(&KEYS[0].jwk).expect("jwk"),
        ],
    };
    let keys = LocalKeys::new();
    assert_eq!(keys.replace(&jwks), 1, "one usable key, duplicates skipped");
    let verifier = Verifier::builder()
        .issuer(IssuerConfig::new(iss).audiences([AUD]).local_keys(keys))
        .build()
        .expect("build");
    assert!(verifier.verify(&token(&KEYS[0], iss)).await.is_ok());
    assert_eq!(
        verifier
            .verify(&token_with_kid(&KEYS[2], "private", iss))
            .await
            .err(),
        Some(VerifyError::UnknownKid)
    );
}

#[tokio::test]
async fn any_audience_still_requires_a_well_typed_aud() {
    let iss = "https://id.example";
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(iss)
                .any_audience()
                .local_keys(local_keys(&[&KEYS[0]])),
        )
        .build()
        .expect("build");
    let c = claims(iss);
    let with_aud = |aud: serde_json::Value| {
        let mut c = c.clone();
        c["aud"] = aud;
        signed(&c)
    };
    for aud in [json!("billing"), json!(["x", "y"]), json!(AUD)] {
        assert!(
            verifier.verify(&with_aud(aud.clone())).await.is_ok(),
            "{aud}"
        );
    }
    for (aud, want) in [
        (json!([]), VerifyError::WrongAudience),
        (json!(""), VerifyError::WrongAudience),
        (json!(null), VerifyError::MissingClaim("aud")),
        (json!(5), VerifyError::InvalidClaims),
        (json!([5]), VerifyError::InvalidClaims),
    ] {
        assert_eq!(
            verifier.verify(&with_aud(aud.clone())).await.err(),
            Some(want),
            "{aud}"
        );
    }
    let mut no_aud = c.clone();
    no_aud.as_object_mut().map(|o| o.remove("aud"));
    assert_eq!(
        verifier.verify(&signed(&no_aud)).await.err(),
        Some(VerifyError::MissingClaim("aud"))
    );
    // Everything else is still checked.
    let mut expired = c.clone();
    expired["exp"] = json!(now() - 3600);
    assert_eq!(
        verifier.verify(&signed(&expired)).await.err(),
        Some(VerifyError::Expired)
    );
    assert_eq!(
        verifier
            .verify(&token(&KEYS[0], "https://other"))
            .await
            .err(),
        Some(VerifyError::UnknownIssuer)
    );
}

#[test]
fn audiences_are_never_implied() {
    // No audience and no any_audience: refused at build time, local or not.
    let built = Verifier::builder()
        .issuer(IssuerConfig::new("https://id.example").local_keys(LocalKeys::new()))
        .build();
    assert!(matches!(built, Err(BuildError::NoAudience(_))));
    // The last of audiences / any_audience wins.
    let built = Verifier::builder()
        .issuer(
            IssuerConfig::new("https://id.example")
                .any_audience()
                .audiences(Vec::<String>::new())
                .local_keys(LocalKeys::new()),
        )
        .build();
    assert!(matches!(built, Err(BuildError::NoAudience(_))));
}

#[test]
fn local_issuers_need_no_url_rules() {
    // A plain-http, non-loopback issuer name is fine when nothing is fetched.
    let built = Verifier::builder()
        .issuer(
            IssuerConfig::new("http://issuer:8080")
                .audiences([AUD])
                .local_keys(LocalKeys::new()),
        )
        .build();
    assert!(built.is_ok());
    // The same issuer fetched is refused, as before.
    let fetched = Verifier::builder()
        .issuer(IssuerConfig::new("http://issuer:8080").audiences([AUD]))
        .build();
    assert!(matches!(fetched, Err(BuildError::InsecureUrl(_))));
}

#[tokio::test]
async fn roles_claim_presence_is_visible() {
    let iss = "https://id.example";
    let verifier = local_verifier(iss, &[&KEYS[0]]);
    let c = claims(iss);
    let user = verifier.verify(&signed(&c)).await.expect("valid");
    assert!(user.has_roles_claim() && user.has_role("admin"));
    let mut no_roles = c.clone();
    no_roles["roles"] = json!([]);
    let user = verifier.verify(&signed(&no_roles)).await.expect("valid");
    assert!(user.has_roles_claim() && user.roles.is_empty());
    no_roles.as_object_mut().map(|o| o.remove("roles"));
    let client = verifier.verify(&signed(&no_roles)).await.expect("valid");
    assert!(!client.has_roles_claim() && client.roles.is_empty());
}
