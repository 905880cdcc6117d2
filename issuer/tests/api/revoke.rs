//! `POST /oauth2/revoke` (RFC 7009) and `POST /oauth2/introspect` (RFC 7662).

use crate::helpers::{TestApp, expect_oauth_error, spawn_app};

const WEB: Option<(&str, &str)> = Some(("web", "web-secret-0123456789"));

async fn revoke(app: &TestApp, client: Option<(&str, &str)>, token: &str) -> reqwest::Response {
    app.post_form("/oauth2/revoke", client, &[("token", token)])
        .await
}

async fn introspect(app: &TestApp, token: &str) -> serde_json::Value {
    let res = app
        .post_form("/oauth2/introspect", WEB, &[("token", token)])
        .await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

#[tokio::test]
async fn revoking_a_refresh_token_logs_the_session_out() {
    let app = spawn_app().await.with_fixtures().await;
    let (_, first) = app.login_tokens().await;
    let (_, second) = app.refresh_ok(&first).await;
    // Revoking any token of the family (here the rotated one) ends it.
    let res = revoke(&app, WEB, &first).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    expect_oauth_error(app.refresh(&second, &[]).await, 400, "invalid_grant").await;
    // Revoking again is still 200.
    assert_eq!(revoke(&app, WEB, &second).await.status().as_u16(), 200);
    let kinds: Vec<String> = app
        .store
        .audit_kinds(20)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(kinds.contains(&"refresh_revoked".to_owned()), "{kinds:?}");
}

#[tokio::test]
async fn unknown_malformed_and_access_tokens_answer_200() {
    let app = spawn_app().await.with_fixtures().await;
    let (access, refresh) = app.login_tokens().await;
    for token in [
        "unknown".to_owned(),
        "x".repeat(43),
        "%%%".to_owned(),
        "y".repeat(4000),
        access,
    ] {
        let res = revoke(&app, WEB, &token).await;
        assert_eq!(res.status().as_u16(), 200);
        assert!(res.text().await.unwrap().is_empty());
    }
    app.refresh_ok(&refresh).await;
    // token_type_hint is accepted.
    let res = app
        .post_form(
            "/oauth2/revoke",
            WEB,
            &[("token", "nope"), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn revoke_needs_client_authentication_and_a_token() {
    let app = spawn_app().await.with_fixtures().await;
    let (_, refresh) = app.login_tokens().await;
    expect_oauth_error(revoke(&app, None, &refresh).await, 401, "invalid_client").await;
    expect_oauth_error(
        revoke(&app, Some(("web", "wrong-secret-0123456789")), &refresh).await,
        401,
        "invalid_client",
    )
    .await;
    let res = app.post_form("/oauth2/revoke", WEB, &[]).await;
    expect_oauth_error(res, 400, "invalid_request").await;
    app.refresh_ok(&refresh).await;
}

#[tokio::test]
async fn another_clients_token_is_not_revoked() {
    let app = spawn_app().await.with_fixtures().await;
    app.add_client(
        "other",
        Some("other-secret-0123456789"),
        &["items:read"],
        &["orders"],
    )
    .await;
    let (_, refresh) = app.login_tokens().await;
    let res = revoke(&app, Some(("other", "other-secret-0123456789")), &refresh).await;
    assert_eq!(res.status().as_u16(), 200);
    app.refresh_ok(&refresh).await;
}

#[tokio::test]
async fn introspection_reports_refresh_and_access_tokens() {
    let app = spawn_app().await.with_fixtures().await;
    let (access, first) = app.login_tokens().await;

    let body = introspect(&app, &first).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["client_id"], "web");
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["username"], "alice");
    assert_eq!(body["scope"], "items:read items:write");
    assert!(body["exp"].as_i64().unwrap() > shared::now_unix());
    assert!(body["iat"].as_i64().unwrap() <= shared::now_unix());

    let body = introspect(&app, &access).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["client_id"], "web");
    assert_eq!(body["aud"], serde_json::json!(["orders", "billing"]));
    assert_eq!(body["scope"], "items:read items:write");
    assert_eq!(body["iss"], app.issuer_url);
    assert!(body["jti"].is_string());
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());

    // Rotated: the old token is inactive, the new one active.
    let (_, second) = app.refresh_ok(&first).await;
    assert_eq!(
        introspect(&app, &first).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(introspect(&app, &second).await["active"], true);
    // Revoked.
    revoke(&app, WEB, &second).await;
    assert_eq!(introspect(&app, &second).await["active"], false);

    // Tampered, foreign, unknown and garbage tokens are simply inactive.
    let mut tampered = access.clone().into_bytes();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let alg_none = {
        let mut parts = access.split('.');
        let _ = parts.next();
        let header = shared::b64::encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        format!("{header}.{}.", parts.next().unwrap())
    };
    for token in [
        tampered,
        alg_none,
        "a.b.c".into(),
        "x".repeat(43),
        "z".into(),
    ] {
        assert_eq!(
            introspect(&app, &token).await,
            serde_json::json!({"active": false}),
            "{token}"
        );
    }
}

#[tokio::test]
async fn introspection_refuses_unauthenticated_and_public_callers() {
    let app = spawn_app().await.with_fixtures().await;
    app.add_client("spa", None, &["items:read"], &["orders"])
        .await;
    let (access, refresh) = app.login_tokens().await;
    for token in [&access, &refresh] {
        let res = app
            .post_form("/oauth2/introspect", None, &[("token", token)])
            .await;
        expect_oauth_error(res, 401, "invalid_client").await;
        let res = app
            .post_form(
                "/oauth2/introspect",
                None,
                &[("token", token), ("client_id", "spa")],
            )
            .await;
        expect_oauth_error(res, 401, "invalid_client").await;
    }
    // Another confidential client does not learn about web's refresh token.
    app.add_client(
        "other",
        Some("other-secret-0123456789"),
        &["items:read"],
        &["orders"],
    )
    .await;
    let res = app
        .post_form(
            "/oauth2/introspect",
            Some(("other", "other-secret-0123456789")),
            &[("token", &refresh)],
        )
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn discovery_lists_revocation_and_introspection() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = app.get_json(path).await;
        assert_eq!(
            doc["revocation_endpoint"],
            format!("{}/oauth2/revoke", app.issuer_url)
        );
        assert_eq!(
            doc["introspection_endpoint"],
            format!("{}/oauth2/introspect", app.issuer_url)
        );
        assert!(
            doc["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&"refresh_token".into())
        );
    }
}
