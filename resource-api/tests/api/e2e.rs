//! What a user of the system sees: tokens from the real issuer accepted or
//! refused by two resource services with different audiences.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{challenge, resource_settings, spawn_issuer, spawn_resource};

const TEN_MINUTES: Duration = Duration::from_secs(600);

#[tokio::test]
async fn a_user_token_works_on_me_and_names_the_caller() {
    let issuer = spawn_issuer(TEN_MINUTES).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let token = issuer.token("alice", "items:read", "orders").await;

    let res = orders.get("/v1/me", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["scopes"], serde_json::json!(["items:read"]));
    assert_eq!(me["roles"], serde_json::json!(["admin"]));
    assert_eq!(me["aud"], serde_json::json!(["orders"]));
    assert!(me["expires_in"].as_i64().unwrap() > 500);
}

#[tokio::test]
async fn scopes_and_roles_are_enforced_with_rfc_6750_answers() {
    let issuer = spawn_issuer(TEN_MINUTES).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let reader = issuer.token("bob", "items:read", "orders").await;
    let writer = issuer
        .token("alice", "items:read items:write", "orders")
        .await;

    assert_eq!(
        orders.get("/v1/items", Some(&reader)).await.status(),
        StatusCode::OK
    );

    let res = orders
        .http
        .post(format!("{}/v1/items", orders.url))
        .bearer_auth(&reader)
        .json(&serde_json::json!({ "name": "widget" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let www = challenge(&res);
    assert!(www.starts_with("Bearer realm=\"orders\""), "{www}");
    assert!(www.contains("error=\"insufficient_scope\""), "{www}");
    assert!(www.contains("scope=\"items:write\""), "{www}");

    let res = orders
        .http
        .post(format!("{}/v1/items", orders.url))
        .bearer_auth(&writer)
        .json(&serde_json::json!({ "name": "widget", "note": "blue" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let listed: serde_json::Value = orders
        .get("/v1/items", Some(&writer))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["name"], "widget");
    assert_eq!(listed["items"][0]["created_by"], "alice");

    // Role checks: alice is an admin, bob is not.
    assert_eq!(
        orders.get("/v1/admin", Some(&writer)).await.status(),
        StatusCode::OK
    );
    let res = orders.get("/v1/admin", Some(&reader)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(challenge(&res).contains("error=\"insufficient_scope\""));
}

#[tokio::test]
async fn a_token_for_one_audience_is_refused_by_the_other_service() {
    let issuer = spawn_issuer(TEN_MINUTES).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let billing = spawn_resource(resource_settings(&issuer.url, "billing")).await;
    let for_orders = issuer.token("bob", "items:read", "orders").await;
    let for_billing = issuer.token("bob", "items:read", "billing").await;

    assert_eq!(
        orders.get("/v1/me", Some(&for_orders)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        billing.get("/v1/me", Some(&for_billing)).await.status(),
        StatusCode::OK
    );
    for (service, token) in [(&billing, &for_orders), (&orders, &for_billing)] {
        let res = service.get("/v1/me", Some(token)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(challenge(&res).contains("error=\"invalid_token\""));
    }
}

#[tokio::test]
async fn expired_and_tampered_tokens_are_refused() {
    let issuer = spawn_issuer(Duration::from_secs(1)).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let token = issuer.token("bob", "items:read", "orders").await;
    assert_eq!(
        orders.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );

    // One flipped payload byte (a letter swapped for another letter keeps the
    // base64url valid, so the signature is what refuses it).
    let mut bytes = token.clone().into_bytes();
    let payload_at = token.find('.').unwrap() + 5;
    bytes[payload_at] = if bytes[payload_at] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(bytes).unwrap();
    let res = orders.get("/v1/me", Some(&tampered)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).contains("invalid_token"));

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = orders.get("/v1/me", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn no_credentials_gives_401_without_an_error_attribute() {
    let issuer = spawn_issuer(TEN_MINUTES).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let res = orders.get("/v1/me", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), "Bearer realm=\"orders\"");
}

#[tokio::test]
async fn cached_keys_keep_verifying_after_the_issuer_stops() {
    let issuer = spawn_issuer(TEN_MINUTES).await;
    let orders = spawn_resource(resource_settings(&issuer.url, "orders")).await;
    let token = issuer.token("alice", "items:read", "orders").await;
    assert_eq!(
        orders.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );

    issuer.handle.stop(true).await;
    assert!(
        reqwest::get(format!("{}/healthz", issuer.url))
            .await
            .is_err(),
        "issuer is down"
    );

    for _ in 0..20 {
        assert_eq!(
            orders.get("/v1/me", Some(&token)).await.status(),
            StatusCode::OK
        );
    }
    let res = orders.get("/readyz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn without_an_issuer_the_service_runs_and_reports_not_ready() {
    let mut settings = resource_settings("http://127.0.0.1:9", "orders");
    settings.issuer_url = None;
    let app = resource_api::Application::build(settings).await.unwrap();
    let url = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let res = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("RESOURCE_ISSUER_URL"));
    let res = reqwest::get(format!("{url}/v1/me")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unreachable_issuer_leaves_the_service_up_and_not_ready() {
    // Port 9 (discard) on loopback: nothing listens, connections are refused.
    let orders =
        resource_api::Application::build(resource_settings("http://127.0.0.1:9", "orders"))
            .await
            .unwrap();
    let url = format!("http://127.0.0.1:{}", orders.port());
    tokio::spawn(orders.run());
    let res = reqwest::get(format!("{url}/readyz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reqwest::get(format!("{url}/healthz"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}
