//! Scheduled key transitions, driven with a simulated clock: no valid token
//! stops verifying until its key is retired.

use testkit::internals::KeyState;

use crate::helpers::{kid_of, kids, spawn_app, verify_with_jwks};

async fn login(app: &crate::helpers::TestApp) -> String {
    let res = app.password_login("alice", "correct horse battery").await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pending_key_activates_and_old_key_retires_on_schedule() {
    let app = spawn_app().await.with_fixtures().await;
    let set = app.state.keys.current();
    let first = set.active().kid().to_owned();
    let pending = set
        .entries()
        .iter()
        .find(|e| e.state == KeyState::Pending)
        .unwrap()
        .clone();
    let second = pending.key.kid().to_owned();
    assert!(pending.activate_at >= shared::now_unix() + 29 * 86_400);
    let old_token = login(&app).await;
    assert_eq!(kid_of(&old_token), first);

    // Nothing is due yet.
    assert!(!app.state.keys.advance(shared::now_unix()).await.unwrap());

    // The pending key's activation time arrives.
    assert!(app.state.keys.advance(pending.activate_at).await.unwrap());
    let jwks = app.jwks().await;
    let published = kids(&jwks);
    assert_eq!(published.len(), 3, "retiring, active, new pending");
    assert!(published.contains(&first) && published.contains(&second));
    verify_with_jwks(&old_token, &jwks, &app.issuer_url, "orders");
    let new_token = login(&app).await;
    assert_eq!(kid_of(&new_token), second);
    verify_with_jwks(&new_token, &jwks, &app.issuer_url, "orders");

    // The retiring key leaves at retire_at, its private key destroyed.
    let retire_at = app
        .state
        .keys
        .current()
        .entries()
        .iter()
        .find(|e| e.state == KeyState::Retiring)
        .and_then(|e| e.retire_at)
        .unwrap();
    assert!(!app.state.keys.advance(retire_at - 1).await.unwrap());
    assert!(app.state.keys.advance(retire_at).await.unwrap());
    let jwks = app.jwks().await;
    let published = kids(&jwks);
    assert_eq!(published.len(), 2);
    assert!(!published.contains(&first));
    let rows = app.store.list_keys().await.unwrap();
    let old = rows.iter().find(|k| k.kid == first).unwrap();
    assert_eq!(old.state, KeyState::Retired);
    assert_eq!(old.private_key, None);
    assert_eq!(
        rows.iter().filter(|k| k.state == KeyState::Active).count(),
        1
    );
}

#[tokio::test]
async fn an_instance_that_lost_the_race_changes_nothing() {
    let app = spawn_app().await;
    let set = app.state.keys.current();
    let pending = set
        .entries()
        .iter()
        .find(|e| e.state == KeyState::Pending)
        .unwrap()
        .clone();
    assert!(app.store.activate_key(pending.key.kid(), 1).await.unwrap());
    // A second instance tries the same promotion.
    assert!(!app.store.activate_key(pending.key.kid(), 2).await.unwrap());
    let rows = app.store.list_keys().await.unwrap();
    assert_eq!(
        rows.iter().filter(|k| k.state == KeyState::Active).count(),
        1
    );
    assert_eq!(
        rows.iter()
            .filter(|k| k.state == KeyState::Retiring)
            .count(),
        1
    );
    assert!(rows.iter().all(|k| k.retire_at != Some(2)));
}
