//! `/admin/keys`: authentication, planned and emergency rotation, and bad
//! requests, all over HTTP against a real issuer.

use std::time::Duration;

use shared::admin::{AdminError, KeyList, RevokeResponse, RotateResponse};
use testkit::internals::KeyState;

use crate::helpers::{
    TestApp, expect_oauth_error, kid_of, kids, spawn_app, spawn_app_with, verify_with_jwks,
};

pub const OPS_SECRET: &str = "ops-secret-0123456789";

/// Registers client `ops` (scope keys:admin for the issuer URL) and client
/// `nosy` (same audience, no admin scope).
pub async fn add_admin_clients(app: &TestApp) {
    app.add_client(
        "ops",
        Some(OPS_SECRET),
        &["keys:admin"],
        &[app.issuer_url.as_str()],
    )
    .await;
    app.add_client(
        "nosy",
        Some("nosy-secret-0123456789"),
        &["items:read"],
        &[app.issuer_url.as_str()],
    )
    .await;
}

pub async fn client_token(app: &TestApp, id: &str, secret: &str) -> String {
    let res = app
        .post_token_basic(id, secret, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

pub async fn admin_token(app: &TestApp) -> String {
    client_token(app, "ops", OPS_SECRET).await
}

async fn admin(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let url = format!("{}{path}", app.address);
    let mut req = match method {
        "GET" => app.http.get(url),
        _ => app.http.post(url),
    };
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

fn www_authenticate(res: &reqwest::Response) -> String {
    res.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn expect_admin_error(res: reqwest::Response, status: u16, code: &str) -> AdminError {
    assert_eq!(res.status().as_u16(), status);
    let body: AdminError = res.json().await.unwrap();
    assert_eq!(body.error, code, "{body:?}");
    body
}

#[tokio::test]
async fn bad_admin_requests_get_clear_errors_never_500() {
    let app = spawn_app().await.with_fixtures().await;
    add_admin_clients(&app).await;

    // No token: 401 with a bare Bearer challenge.
    let res = admin(&app, "GET", "/admin/keys", None).await;
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(www_authenticate(&res), r#"Bearer realm="issuer""#);

    // Unparseable header: 400 invalid_request.
    let res = app
        .http
        .get(format!("{}/admin/keys", app.address))
        .header("authorization", "Bearer two words")
        .send()
        .await
        .unwrap();
    assert!(www_authenticate(&res).contains(r#"error="invalid_request""#));
    expect_admin_error(res, 400, "invalid_request").await;

    // Garbage and foreign-audience tokens: 401 invalid_token.
    let res = admin(&app, "POST", "/admin/keys/rotate", Some("abc.def.ghi")).await;
    assert!(www_authenticate(&res).contains(r#"error="invalid_token""#));
    expect_admin_error(res, 401, "invalid_token").await;
    let (user_token, _) = app.login_tokens().await;
    let res = admin(&app, "GET", "/admin/keys", Some(&user_token)).await;
    expect_admin_error(res, 401, "invalid_token").await;

    // The right audience without the scope: 403 naming keys:admin.
    let nosy = client_token(&app, "nosy", "nosy-secret-0123456789").await;
    let res = admin(&app, "POST", "/admin/keys/rotate", Some(&nosy)).await;
    let challenge = www_authenticate(&res);
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="keys:admin""#), "{challenge}");
    expect_admin_error(res, 403, "insufficient_scope").await;

    let token = admin_token(&app).await;
    // Two Authorization headers: 400 invalid_request, even if both are good.
    let res = app
        .http
        .get(format!("{}/admin/keys", app.address))
        .bearer_auth(&token)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert!(www_authenticate(&res).contains(r#"error="invalid_request""#));
    expect_admin_error(res, 400, "invalid_request").await;

    // Unknown kid: 404, the kid not echoed.
    let res = admin(&app, "POST", "/admin/keys/no-such-kid/revoke", Some(&token)).await;
    let body = expect_admin_error(res, 404, "not_found").await;
    assert!(!format!("{body:?}").contains("no-such-kid"), "{body:?}");
    let res = admin(
        &app,
        "POST",
        "/admin/keys/bad%20kid%2F/revoke",
        Some(&token),
    )
    .await;
    let body = expect_admin_error(res, 404, "not_found").await;
    assert!(!format!("{body:?}").contains("bad"), "{body:?}");

    // The last usable key without a successor: 409, and nothing changes.
    let list: KeyList = admin(&app, "GET", "/admin/keys", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let active = list.active_kid.clone().unwrap();
    let pending = list
        .keys
        .iter()
        .find(|k| k.state == "pending")
        .unwrap()
        .kid
        .clone();
    // Take the successor away behind the service's back (a store-level
    // revocation without a replacement).
    app.store
        .revoke_key(
            &pending,
            shared::now_unix(),
            None,
            &testkit::internals::AuditEvent {
                kind: "test",
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    let res = admin(
        &app,
        "POST",
        &format!("/admin/keys/{active}/revoke"),
        Some(&token),
    )
    .await;
    let body = expect_admin_error(res, 409, "conflict").await;
    assert!(
        body.error_description.contains("last usable key"),
        "{body:?}"
    );
    let rows = app.store.list_keys().await.unwrap();
    assert_eq!(
        rows.iter().find(|k| k.kid == active).unwrap().state,
        KeyState::Active
    );

    // Revoking an already revoked key: 409.
    let res = admin(
        &app,
        "POST",
        &format!("/admin/keys/{pending}/revoke"),
        Some(&token),
    )
    .await;
    let body = expect_admin_error(res, 409, "conflict").await;
    assert!(
        body.error_description.contains("already revoked"),
        "{body:?}"
    );

    // Rotating with no pending key: 409, not 500.
    let res = admin(&app, "POST", "/admin/keys/rotate", Some(&token)).await;
    expect_admin_error(res, 409, "conflict").await;
}

#[tokio::test]
async fn list_shows_states_times_and_signed_counts() {
    let app = spawn_app().await.with_fixtures().await;
    add_admin_clients(&app).await;
    let token = admin_token(&app).await;
    app.login_tokens().await;
    app.login_tokens().await;
    let res = admin(&app, "GET", "/admin/keys", Some(&token)).await;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap(),
        "no-store"
    );
    let list: KeyList = res.json().await.unwrap();
    assert_eq!(list.keys.len(), 2);
    assert_eq!(list.jwks_max_age, 300);
    let active = list.keys.iter().find(|k| k.state == "active").unwrap();
    assert_eq!(list.active_kid.as_deref(), Some(active.kid.as_str()));
    // Two logins and the admin token itself.
    assert_eq!(active.signed_count, 3);
    let pending = list.keys.iter().find(|k| k.state == "pending").unwrap();
    assert_eq!(pending.signed_count, 0);
    assert!(pending.published && active.published);
    assert!(pending.activate_at > active.activate_at);
}

#[tokio::test]
async fn planned_rotation_waits_for_the_prepublication_lead_then_switches() {
    let app = spawn_app_with(|c| {
        c.jwks_max_age = Duration::from_secs(1);
        c.key_margin = Duration::from_secs(1);
    })
    .await
    .with_fixtures()
    .await;
    add_admin_clients(&app).await;
    let token = admin_token(&app).await;
    let before = app.state.keys.current();
    let first = before.active().kid().to_owned();
    let (old_token, _) = app.login_tokens().await;

    // The pending key was created a moment ago: it activates once it has
    // been published for the 3 s lead, not now.
    let res = admin(&app, "POST", "/admin/keys/rotate", Some(&token)).await;
    assert_eq!(res.status().as_u16(), 200);
    let rotated: RotateResponse = res.json().await.unwrap();
    let now = shared::now_unix();
    assert!(rotated.activate_at > now - 1 && rotated.activate_at <= now + 3);
    assert_eq!(rotated.retiring_kid.as_deref(), Some(first.as_str()));
    let published = kids(&app.jwks().await);
    assert!(published.contains(&rotated.active_kid));
    assert!(
        published.contains(&rotated.pending_kid),
        "successor published at once"
    );
    assert_eq!(published.len(), 3);

    // A second request while that rotation is under way changes nothing.
    let res = admin(&app, "POST", "/admin/keys/rotate", Some(&token)).await;
    expect_admin_error(res, 409, "conflict").await;

    // The scheduler switches at activate_at; the old key's tokens still verify.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (t, _) = app.login_tokens().await;
        if kid_of(&t) == rotated.active_kid {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never switched");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shared::now_unix() >= rotated.activate_at);
    let jwks = app.jwks().await;
    assert!(kids(&jwks).contains(&first));
    verify_with_jwks(&old_token, &jwks, &app.issuer_url, "orders");
    // Every login in the wait above adds audit events: search them all.
    let events = app.store.audit_kinds(10_000).await.unwrap();
    assert!(
        events
            .iter()
            .any(|(k, s)| k == "key_rotated" && s.as_deref() == Some("ops"))
    );
}

#[tokio::test]
async fn emergency_revoke_drops_the_key_at_once_and_revokes_its_sessions() {
    let app = spawn_app().await.with_fixtures().await;
    add_admin_clients(&app).await;
    let token = admin_token(&app).await;
    let compromised = app.state.keys.current().active().kid().to_owned();
    let (_, refresh) = app.login_tokens().await;
    let (_, refresh2) = app.login_tokens().await;
    let pending = app
        .state
        .keys
        .current()
        .entries()
        .iter()
        .find(|e| e.state == testkit::internals::KeyState::Pending)
        .unwrap()
        .key
        .kid()
        .to_owned();

    let res = admin(
        &app,
        "POST",
        &format!("/admin/keys/{compromised}/revoke"),
        Some(&token),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    let body: RevokeResponse = res.json().await.unwrap();
    assert_eq!(body.revoked_kid, compromised);
    assert_eq!(body.active_kid, pending, "the pending key is promoted now");
    let successor = body.pending_kid.clone().expect("a new pending key");
    assert_eq!(body.refresh_families_revoked, 2);
    assert_eq!(body.caches_drop_within, 301, "max-age + the 1 s key sync");

    // Gone from the JWKS at once; the promoted key signs.
    let published = kids(&app.jwks().await);
    assert!(!published.contains(&compromised));
    assert!(published.contains(&pending) && published.contains(&successor));
    let (fresh, _) = app.login_tokens().await;
    assert_eq!(kid_of(&fresh), pending);
    app.verify(&fresh, "orders").await;

    // Its sessions are over.
    for r in [&refresh, &refresh2] {
        expect_oauth_error(app.refresh(r, &[]).await, 400, "invalid_grant").await;
    }
    // Private material destroyed.
    let rows = app.store.list_keys().await.unwrap();
    let row = rows.iter().find(|k| k.kid == compromised).unwrap();
    assert_eq!(row.state, KeyState::Revoked);
    assert_eq!(row.private_key, None);
    assert_eq!(
        rows.iter().filter(|k| k.state == KeyState::Active).count(),
        1
    );
    let events = app.store.audit_kinds(10_000).await.unwrap();
    assert!(events.iter().any(|(k, _)| k == "key_revoked"));

    // The admin token was signed by the revoked key: refused now.
    let res = admin(&app, "GET", "/admin/keys", Some(&token)).await;
    expect_admin_error(res, 401, "invalid_token").await;
}
