//! One verification path: the issuer's `/oauth2/introspect` refuses exactly
//! what a resource service (jwks-client) refuses. The test kit's table of
//! hostile tokens is signed with the issuer's own active key, so a verdict
//! can only come from the checks, never from an unknown signer.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::forge::{Key, header, hostile_tokens};
use testkit::services::{CLIENT_ID, CLIENT_SECRET};

use crate::helpers::{TestIssuer, resource_settings, spawn_issuer, spawn_resource};

/// Cases whose verdicts differ by design: the issuer introspects tokens for
/// every audience (RFC 7662), a resource service accepts only its own.
const AUDIENCE_CASES: [&str; 2] = ["wrong aud", "aud array without ours"];

async fn introspected_active(issuer: &TestIssuer, token: &str) -> bool {
    let res = issuer
        .app
        .post_form(
            "/oauth2/introspect",
            Some((CLIENT_ID, CLIENT_SECRET)),
            &[("token", token)],
        )
        .await;
    // A token too large for the form is refused before it is judged.
    if res.status() != 200 {
        assert_eq!(res.status(), 413, "introspection answered {}", res.status());
        return false;
    }
    let body: Value = res.json().await.unwrap();
    body["active"].as_bool().unwrap()
}

#[tokio::test]
async fn introspection_and_a_resource_service_give_the_same_verdicts() {
    let issuer = spawn_issuer(Duration::from_secs(600)).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let key = issuer.app.active_signing_key().await;
    let other = Key::generate();
    let now = shared::now_unix();
    let claims = json!({
        "iss": issuer.url, "sub": "alice", "aud": "orders", "exp": now + 600,
        "iat": now, "nbf": now, "jti": "parity-1", "client_id": CLIENT_ID,
        "scope": "items:read", "roles": ["admin"],
    });
    let good = key.sign(&header(key.kid()), &claims);
    let mut cases = vec![("control: a well-formed token", good)];
    cases.extend(hostile_tokens(
        &key,
        &other,
        &claims,
        "http://127.0.0.1:9/never-fetched",
    ));

    let mut compared = 0;
    let mut accepted = Vec::new();
    for (case, token) in &cases {
        let introspected = introspected_active(&issuer, token).await;
        let served = match orders
            .http
            .get(format!("{}/v1/me", orders.url))
            .bearer_auth(token)
            .send()
            .await
        {
            Ok(res) => res.status() == 200,
            // A header far over the limit may be refused by a closed
            // connection.
            Err(_) => false,
        };
        if AUDIENCE_CASES.contains(case) {
            assert!(introspected && !served, "{case}: {introspected} / {served}");
            continue;
        }
        assert_eq!(
            introspected, served,
            "{case}: introspection active={introspected}, resource service accepted={served}"
        );
        compared += 1;
        if served {
            accepted.push(*case);
        }
    }
    assert!(compared > 40, "the table was compared ({compared} cases)");
    // The control is accepted by both, and it is the only one.
    assert_eq!(accepted, ["control: a well-formed token"]);
}
