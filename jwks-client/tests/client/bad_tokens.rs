//! A table of hostile or broken tokens, each refused with its own error.

use aws_lc_rs::signature;
use jwks_client::{Algorithm, IssuerConfig, Verifier, VerifyError};
use serde_json::json;
use testkit::forge::{hs256, non_canonical, pad, unsigned, with, without};

use crate::support::*;

fn rs256(header: &str, claims: &str) -> String {
    sign_raw(&KEYS[0], header, claims, &signature::RSA_PKCS1_SHA256)
}

#[tokio::test]
async fn hostile_and_broken_tokens_are_refused_with_specific_errors() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let trap = JwksServer::start(jwks(&[&KEYS[1]])).await;
    let verifier = verifier_for(&server, fast_cache());
    refuses_the_table(&verifier, &issuer_of(&server), &trap).await;
    // Only the control token and the path-traversal kid (one forced refresh)
    // reached the JWKS server.
    assert!(server.jwks_hits() <= 2);
}

/// The same table through keys held in memory: the same verdicts, and no
/// request at all (not even for the unknown `kid`).
#[tokio::test]
async fn local_keys_refuse_the_same_tokens_with_the_same_errors() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let trap = JwksServer::start(jwks(&[&KEYS[1]])).await;
    let iss = issuer_of(&server);
    let verifier = local_verifier(&iss, &[&KEYS[0]]);
    refuses_the_table(&verifier, &iss, &trap).await;
    assert_eq!(server.total_hits(), 0, "local keys are never fetched");
}

/// The control token verifies; every case of [`bad_tokens`] gets its own
/// error, counted as a failure; nothing named by `jku`/`x5u` is fetched.
async fn refuses_the_table(verifier: &Verifier, iss: &str, trap: &JwksServer) {
    assert!(
        verifier.verify(&token(&KEYS[0], iss)).await.is_ok(),
        "control token"
    );
    let cases = bad_tokens(iss, trap);
    for (name, token, want) in &cases {
        let got = verifier.verify(token).await;
        assert_eq!(got.as_ref().err(), Some(want), "{name}");
    }
    assert_eq!(trap.total_hits(), 0, "a jku/x5u URL was fetched");
    assert_eq!(verifier.metrics().verifications_failed, cases.len() as u64);
}

/// Hostile or broken tokens for issuer `iss` (keys: `KEYS[0]`), each with
/// the error it must get; `trap` is a listener that `jku`/`x5u` name.
fn bad_tokens(iss: &str, trap: &JwksServer) -> Vec<(&'static str, String, VerifyError)> {
    let kid = KEYS[0].kid();
    let h = header(kid);
    let c = claims(iss);
    let good = token(&KEYS[0], iss);
    let [gh, gp, gs]: [&str; 3] = good
        .split('.')
        .collect::<Vec<_>>()
        .try_into()
        .expect("three segments");

    let jwk_json = serde_json::to_string(&KEYS[0].jwk).expect("jwk");
    let n_e = [KEYS[0].n.clone(), KEYS[0].e.clone()].concat();
    let now = now();
    vec![
        (
            "alg none, empty signature",
            unsigned(&with(h.clone(), "alg", json!("none")), &c.to_string(), ""),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "alg None",
            unsigned(&with(h.clone(), "alg", json!("None")), &c.to_string(), ""),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "alg NONE with a signature",
            unsigned(&with(h.clone(), "alg", json!("NONE")), &c.to_string(), gs),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "no alg",
            rs256(&without(h.clone(), "alg"), &c.to_string()),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "HS256 keyed with the public key DER",
            hs256(
                KEYS[0].public_der(),
                &with(h.clone(), "alg", json!("HS256")),
                &c.to_string(),
            ),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "HS256 keyed with the JWK JSON",
            hs256(
                jwk_json.as_bytes(),
                &with(h.clone(), "alg", json!("HS256")),
                &c.to_string(),
            ),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "HS256 keyed with n||e",
            hs256(
                &n_e,
                &with(h.clone(), "alg", json!("HS256")),
                &c.to_string(),
            ),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "RS384 with the right key",
            sign_raw(
                &KEYS[0],
                &with(h.clone(), "alg", json!("RS384")),
                &c.to_string(),
                &signature::RSA_PKCS1_SHA384,
            ),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "PS256 with the right key",
            sign_raw(
                &KEYS[0],
                &with(h.clone(), "alg", json!("PS256")),
                &c.to_string(),
                &signature::RSA_PSS_SHA256,
            ),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "embedded jwk",
            rs256(
                &with(
                    h.clone(),
                    "jwk",
                    serde_json::to_value(&KEYS[0].jwk).expect("jwk"),
                ),
                &c.to_string(),
            ),
            VerifyError::ForbiddenHeader,
        ),
        (
            "jku to a listener",
            rs256(
                &with(h.clone(), "jku", json!(trap.jwks_url())),
                &c.to_string(),
            ),
            VerifyError::ForbiddenHeader,
        ),
        (
            "x5u to a listener",
            rs256(
                &with(h.clone(), "x5u", json!(trap.jwks_url())),
                &c.to_string(),
            ),
            VerifyError::ForbiddenHeader,
        ),
        (
            "x5c",
            rs256(&with(h.clone(), "x5c", json!(["MIIB"])), &c.to_string()),
            VerifyError::ForbiddenHeader,
        ),
        (
            "crit",
            rs256(&with(h.clone(), "crit", json!(["exp"])), &c.to_string()),
            VerifyError::CritHeader,
        ),
        (
            "kid path traversal",
            rs256(
                &with(h.clone(), "kid", json!("../../etc/passwd")),
                &c.to_string(),
            ),
            VerifyError::UnknownKid,
        ),
        (
            "kid is a number",
            rs256(&with(h.clone(), "kid", json!(7)), &c.to_string()),
            VerifyError::InvalidHeader,
        ),
        (
            "kid too long",
            rs256(
                &with(h.clone(), "kid", json!("k".repeat(300))),
                &c.to_string(),
            ),
            VerifyError::InvalidHeader,
        ),
        (
            "no kid",
            rs256(&without(h.clone(), "kid"), &c.to_string()),
            VerifyError::MissingKid,
        ),
        (
            "header is an array",
            unsigned(r#"["RS256"]"#, &c.to_string(), gs),
            VerifyError::InvalidHeader,
        ),
        (
            "exp is a string",
            rs256(
                &h.to_string(),
                &with(c.clone(), "exp", json!((now + 600).to_string())),
            ),
            VerifyError::InvalidClaims,
        ),
        (
            "aud is a number",
            rs256(&h.to_string(), &with(c.clone(), "aud", json!(5))),
            VerifyError::InvalidClaims,
        ),
        (
            "roles is a string",
            rs256(&h.to_string(), &with(c.clone(), "roles", json!("admin"))),
            VerifyError::InvalidClaims,
        ),
        (
            "claims are an array",
            rs256(&h.to_string(), "[1,2]"),
            VerifyError::InvalidClaims,
        ),
        (
            "expired",
            rs256(&h.to_string(), &with(c.clone(), "exp", json!(now - 120))),
            VerifyError::Expired,
        ),
        (
            "no exp",
            rs256(&h.to_string(), &without(c.clone(), "exp")),
            VerifyError::MissingClaim("exp"),
        ),
        (
            "not yet valid",
            rs256(&h.to_string(), &with(c.clone(), "nbf", json!(now + 600))),
            VerifyError::NotYetValid,
        ),
        (
            "issued in the future",
            rs256(&h.to_string(), &with(c.clone(), "iat", json!(now + 600))),
            VerifyError::IssuedInFuture,
        ),
        (
            "wrong iss",
            rs256(
                &h.to_string(),
                &with(c.clone(), "iss", json!("https://evil.example")),
            ),
            VerifyError::UnknownIssuer,
        ),
        (
            "iss differs by a slash",
            rs256(
                &h.to_string(),
                &with(c.clone(), "iss", json!(format!("{iss}/"))),
            ),
            VerifyError::UnknownIssuer,
        ),
        (
            "no iss",
            rs256(&h.to_string(), &without(c.clone(), "iss")),
            VerifyError::MissingClaim("iss"),
        ),
        (
            "wrong aud",
            rs256(
                &h.to_string(),
                &with(c.clone(), "aud", json!(["billing", "ops"])),
            ),
            VerifyError::WrongAudience,
        ),
        (
            "no aud",
            rs256(&h.to_string(), &without(c.clone(), "aud")),
            VerifyError::MissingClaim("aud"),
        ),
        (
            "no sub",
            rs256(&h.to_string(), &without(c.clone(), "sub")),
            VerifyError::MissingClaim("sub"),
        ),
        (
            "typ JWT",
            rs256(&with(h.clone(), "typ", json!("JWT")), &c.to_string()),
            VerifyError::WrongType,
        ),
        (
            "no typ",
            rs256(&without(h.clone(), "typ"), &c.to_string()),
            VerifyError::WrongType,
        ),
        (
            "duplicate alg",
            rs256(
                &format!(r#"{{"alg":"RS256","alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#),
                &c.to_string(),
            ),
            VerifyError::DuplicateMember,
        ),
        (
            "duplicate kid",
            rs256(
                &format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","kid":"other"}}"#),
                &c.to_string(),
            ),
            VerifyError::DuplicateMember,
        ),
        (
            "escaped duplicate alg",
            rs256(
                &format!(r#"{{"alg":"RS256","\u0061lg":"none","typ":"at+jwt","kid":"{kid}"}}"#),
                &c.to_string(),
            ),
            VerifyError::DuplicateMember,
        ),
        (
            "duplicate exp",
            rs256(
                &h.to_string(),
                &c.to_string()
                    .replacen('{', &format!(r#"{{"exp":{},"#, now + 99999), 1),
            ),
            VerifyError::DuplicateMember,
        ),
        (
            "duplicate aud",
            rs256(
                &h.to_string(),
                &c.to_string().replacen('{', r#"{"aud":"billing","#, 1),
            ),
            VerifyError::DuplicateMember,
        ),
        (
            "padded signature",
            format!("{gh}.{gp}.{gs}=="),
            VerifyError::BadBase64,
        ),
        (
            "padded header",
            format!("{}.{gp}.{gs}", pad(gh)),
            VerifyError::BadBase64,
        ),
        (
            "non-canonical signature",
            format!("{gh}.{gp}.{}", non_canonical(gs)),
            VerifyError::BadBase64,
        ),
        (
            "standard alphabet",
            format!("{gh}.{gp}.{}", gs.replace('-', "+").replace('_', "/")),
            if gs.contains(['-', '_']) {
                VerifyError::BadBase64
            } else {
                VerifyError::BadSignature
            },
        ),
        ("two segments", format!("{gh}.{gp}"), VerifyError::Malformed),
        (
            "four segments",
            format!("{good}.{gs}"),
            VerifyError::Malformed,
        ),
        ("empty", String::new(), VerifyError::Malformed),
        (
            "1 MB token",
            format!("{gh}.{}.{gs}", "A".repeat(1024 * 1024)),
            VerifyError::TokenTooLarge,
        ),
        (
            "tampered payload",
            format!("{gh}.{}.{gs}", b64(with(c.clone(), "sub", json!("admin")))),
            VerifyError::BadSignature,
        ),
        (
            "signed by another key",
            sign_raw(
                &KEYS[1],
                &h.to_string(),
                &c.to_string(),
                &signature::RSA_PKCS1_SHA256,
            ),
            VerifyError::BadSignature,
        ),
    ]
}

#[tokio::test]
async fn key_alg_must_match_the_token_alg() {
    // The policy allows RS256 and RS384, the key is pinned to RS256.
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(issuer_of(&server))
                .jwks_url(server.jwks_url())
                .audiences([AUD])
                .algorithms(&[Algorithm::RS256, Algorithm::RS384]),
        )
        .http(fast_http())
        .build()
        .expect("build");
    let rs384 = sign_raw(
        &KEYS[0],
        &with(header(KEYS[0].kid()), "alg", json!("RS384")),
        &claims(&issuer_of(&server)).to_string(),
        &signature::RSA_PKCS1_SHA384,
    );
    assert_eq!(
        verifier.verify(&rs384).await.err(),
        Some(VerifyError::AlgorithmNotAllowed)
    );
    assert!(
        verifier
            .verify(&token(&KEYS[0], &issuer_of(&server)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn typ_compares_case_insensitively_and_accepts_the_media_type() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let verifier = verifier_for(&server, fast_cache());
    let c = claims(&issuer_of(&server)).to_string();
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/At+Jwt",
    ] {
        let t = rs256(&with(header(KEYS[0].kid()), "typ", json!(typ)), &c);
        assert!(verifier.verify(&t).await.is_ok(), "{typ}");
    }
    // Independent check: jsonwebtoken accepts what we accept.
    let good = token(&KEYS[0], &issuer_of(&server));
    let key = jsonwebtoken::DecodingKey::from_rsa_raw_components(&KEYS[0].n, &KEYS[0].e);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[AUD]);
    validation.set_issuer(&[issuer_of(&server)]);
    assert!(jsonwebtoken::decode::<serde_json::Value>(&good, &key, &validation).is_ok());
}

#[tokio::test]
async fn leeway_applies_to_exp_and_nbf() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let verifier = verifier_for(&server, fast_cache());
    let h = header(KEYS[0].kid()).to_string();
    let c = claims(&issuer_of(&server));
    let now = now();
    // Within the default 30 s leeway.
    assert!(
        verifier
            .verify(&rs256(&h, &with(c.clone(), "exp", json!(now - 10))))
            .await
            .is_ok()
    );
    assert!(
        verifier
            .verify(&rs256(&h, &with(c.clone(), "nbf", json!(now + 10))))
            .await
            .is_ok()
    );
    assert_eq!(
        verifier
            .verify(&rs256(&h, &with(c.clone(), "exp", json!(now - 40))))
            .await
            .err(),
        Some(VerifyError::Expired)
    );
}
