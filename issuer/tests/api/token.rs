//! Successful grants, verified independently.

use crate::helpers::spawn_app;
use shared::claims::Audience;

#[tokio::test]
async fn password_grant_token_verifies_against_served_jwks() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app.password_login("alice", "correct horse battery").await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "items:read items:write");
    let token = body["access_token"].as_str().unwrap();

    let claims = app.verify(token, "orders").await;
    assert_eq!(claims.iss, app.issuer_url);
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.client_id, "web");
    assert_eq!(
        claims.aud,
        Audience::Many(vec!["orders".into(), "billing".into()])
    );
    assert_eq!(claims.scope, "items:read items:write");
    assert_eq!(claims.roles, Some(vec!["admin".to_owned()]));
    assert_eq!(claims.exp - claims.iat, 600);
    assert_eq!(claims.nbf, claims.iat);
    assert!((claims.iat - shared::now_unix()).abs() < 10);
    assert_eq!(shared::b64::decode(&claims.jti).unwrap().len(), 16);

    // The signing kid is the active key in the JWKS (RFC 7638 thumbprint).
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwks = app.jwks().await;
    let kid = header.kid.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    assert_eq!(
        shared::jwk::rsa_thumbprint(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap()),
        kid
    );
    // Audit trail.
    let events = app.store.audit_kinds(10).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        kinds.contains(&"login_ok") && kinds.contains(&"token_issued"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn client_credentials_token_verifies_and_narrows_scope() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "web"),
            ("client_secret", "web-secret-0123456789"),
            ("scope", "items:read"),
            ("audience", "billing"),
        ])
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "items:read");
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), "billing")
        .await;
    assert_eq!(claims.sub, "web");
    assert_eq!(claims.client_id, "web");
    assert_eq!(claims.aud, Audience::One("billing".into()));
    assert_eq!(claims.scope, "items:read");
    assert_eq!(claims.roles, None);
}

#[tokio::test]
async fn user_lists_narrow_the_client_and_public_clients_work() {
    let app = spawn_app().await.with_fixtures().await;
    app.add_client("spa", None, &["items:read", "items:write"], &["orders"])
        .await;
    app.store
        .insert_user(&testkit::internals::User {
            name: "bob".into(),
            password_hash: testkit::internals::hash_password(b"pw-of-bob").unwrap(),
            roles: vec![],
            scopes: Some(vec!["items:read".into()]),
            audiences: None,
            disabled: false,
        })
        .await
        .unwrap();
    let res = app
        .post_token(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", "bob"),
            ("password", "pw-of-bob"),
        ])
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), "orders")
        .await;
    assert_eq!(claims.scope, "items:read");
    assert_eq!(claims.roles, Some(vec![]));

    // A public client cannot use client_credentials.
    let res = app
        .post_token(&[("grant_type", "client_credentials"), ("client_id", "spa")])
        .await;
    crate::helpers::expect_oauth_error(res, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn metrics_count_tokens_by_grant_and_signing_time() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app.password_login("alice", "correct horse battery").await;
    assert_eq!(res.status().as_u16(), 200);
    let text = app.metrics().await;
    assert!(
        text.contains(r#"issuer_tokens_issued_total{grant="password"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("issuer_token_signing_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"issuer_http_requests_total{route="/oauth2/token",method="POST",status="200"} 1"#
        ),
        "{text}"
    );
}

/// Audit events are committed in groups, never after the answer: of 40
/// concurrent client_credentials grants, each token's `jti` is in the audit
/// table (with the signing key) as soon as its own answer has arrived.
#[tokio::test]
async fn concurrent_grants_are_each_audited_before_their_answer() {
    let app = spawn_app().await.with_fixtures().await;
    let app = std::sync::Arc::new(app);
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let grants = (0..40).map(|_| {
        let (app, pool) = (app.clone(), pool.clone());
        tokio::spawn(async move {
            let res = app
                .post_token(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "web"),
                    ("client_secret", "web-secret-0123456789"),
                ])
                .await;
            assert_eq!(res.status().as_u16(), 200);
            let body: serde_json::Value = res.json().await.unwrap();
            let claims = app
                .verify(body["access_token"].as_str().unwrap(), "orders")
                .await;
            // Read right after this answer, while others are in flight.
            let details: Vec<String> =
                sqlx::query_scalar("SELECT detail FROM audit_events WHERE kind = 'token_issued'")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let wanted = format!("grant=client_credentials jti={} kid=", claims.jti);
            assert!(
                details.iter().any(|d| d.starts_with(&wanted)),
                "token {} answered before its audit event was committed",
                claims.jti
            );
        })
    });
    for grant in grants.collect::<Vec<_>>() {
        grant.await.unwrap();
    }
    let events = app.store.audit_kinds(1000).await.unwrap();
    let issued = events.iter().filter(|(k, _)| k == "token_issued").count();
    assert_eq!(issued, 40);
}
