//! A full scheduled key cycle in real time with short timings, observed
//! only over HTTP; restart mid-cycle; refused key timings.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use shared::admin::RotateResponse;
use testkit::internals::{Application, KeyState};

use crate::admin::{add_admin_clients, admin_token};
use crate::helpers::{kid_of, kids, spawn_app_with, spawn_with, test_config, verify_with_jwks};

fn max_age(res: &reqwest::Response) -> u64 {
    let cc = res
        .headers()
        .get("cache-control")
        .unwrap()
        .to_str()
        .unwrap();
    cc.rsplit("max-age=").next().unwrap().parse().unwrap()
}

/// JWKS max-age 2 s, margin 1 s: pre-publication 5 s, rotation period 5 s,
/// access tokens 1 s, retirement 4 s after the successor activates.
fn cycle_timings(c: &mut testkit::internals::Config) {
    c.jwks_max_age = Duration::from_secs(2);
    c.key_margin = Duration::from_secs(1);
    c.access_token_ttl = Duration::from_secs(1);
    c.rotation_period = Duration::from_secs(5);
}

#[tokio::test]
async fn scheduled_cycle_never_signs_unpublished_or_drops_live_keys() {
    let app = spawn_app_with(cycle_timings).await.with_fixtures().await;
    let first_jwks = app.jwks().await;
    let initial = kids(&first_jwks);
    assert_eq!(initial.len(), 2, "active and pending from the start");

    // kid -> latest exp of a token it signed.
    let mut signed: HashMap<String, i64> = HashMap::new();
    let mut first_signer_seen_at: HashMap<String, Vec<String>> = HashMap::new();
    let mut shrunk_before_switch = false;
    let mut switched = false;
    let first = app.state.keys.current().active().kid().to_owned();
    let started = Instant::now();
    let mut left_at = None;
    while started.elapsed() < Duration::from_secs(20) {
        let res = app
            .http
            .get(format!("{}/.well-known/jwks.json", app.address))
            .send()
            .await
            .unwrap();
        let age = max_age(&res);
        assert!(age <= 2);
        let jwks: serde_json::Value = res.json().await.unwrap();
        let published = kids(&jwks);
        let now = shared::now_unix();

        // Every token still valid verifies against what is served now.
        for (kid, exp) in &signed {
            if *exp > now {
                assert!(
                    published.contains(kid),
                    "key {kid} left while its tokens live"
                );
            }
        }
        let (token, _) = app.login_tokens().await;
        let kid = kid_of(&token);
        // A key signs only after it was already served in the JWKS.
        first_signer_seen_at
            .entry(kid.clone())
            .or_insert_with(|| published.clone());
        verify_with_jwks(&token, &jwks, &app.issuer_url, "orders");
        let exp = verify_with_jwks(&token, &jwks, &app.issuer_url, "orders").exp;
        signed.insert(kid.clone(), exp);

        if kid == first && age < 2 {
            shrunk_before_switch = true;
        }
        if kid != first {
            switched = true;
        }
        if switched && !published.contains(&first) {
            left_at = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left_at = left_at.expect("the old key retired within 20 s");
    assert!(switched);
    assert!(shrunk_before_switch, "max-age shrank before the activation");
    assert!(
        left_at >= signed[&first],
        "left only after its last token expired"
    );
    for (kid, jwks_then) in &first_signer_seen_at {
        assert!(
            jwks_then.contains(kid),
            "{kid} signed before it was published"
        );
    }
    // The successor's successor exists and is published, unsigned.
    let now_published = kids(&app.jwks().await);
    assert_eq!(now_published.len(), 2);
    let rows = app.store.list_keys().await.unwrap();
    let old = rows.iter().find(|k| k.kid == first).unwrap();
    assert_eq!(old.state, KeyState::Retired);
    assert_eq!(old.private_key, None);
    assert_eq!(
        rows.iter().filter(|k| k.state == KeyState::Active).count(),
        1
    );
    assert_eq!(
        rows.iter().filter(|k| k.state == KeyState::Pending).count(),
        1
    );
}

#[tokio::test]
async fn restart_mid_rotation_resumes_the_same_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_with(dir.path(), None, |c| {
        c.jwks_max_age = Duration::from_secs(1);
        c.key_margin = Duration::from_secs(1);
    })
    .await
    .with_fixtures()
    .await;
    add_admin_clients(&app).await;
    let token = admin_token(&app).await;
    let res = app
        .http
        .post(format!("{}/admin/keys/rotate", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let rotated: RotateResponse = res.json().await.unwrap();
    let (old_token, _) = app.login_tokens().await;
    let before = app.store.list_keys().await.unwrap();
    app.stop().await;

    // A new process on the same database (a new port: a new issuer URL is
    // fine, the keys and times are what must survive).
    let app = spawn_with(dir.path(), None, |c| {
        c.jwks_max_age = Duration::from_secs(1);
        c.key_margin = Duration::from_secs(1);
    })
    .await;
    let after = app.store.list_keys().await.unwrap();
    let summary = |rows: &[testkit::internals::StoredKey]| -> Vec<(String, KeyState, i64)> {
        rows.iter()
            .map(|k| (k.kid.clone(), k.state, k.activate_at))
            .collect()
    };
    if shared::now_unix() < rotated.activate_at {
        assert_eq!(summary(&before), summary(&after), "nothing lost or added");
    }
    // The switch still happens at the recorded time, not later.
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.state.keys.current().active().kid() != rotated.active_kid {
        assert!(Instant::now() < deadline, "schedule not resumed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shared::now_unix() <= rotated.activate_at + 2);
    let jwks = app.jwks().await;
    assert!(kids(&jwks).contains(&kid_of(&old_token)));
    assert!(kids(&jwks).contains(&rotated.pending_kid));
    drop(dir);
}

#[tokio::test]
async fn unsafe_key_timings_are_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    for (tweak, var) in [
        (
            Box::new(|c: &mut testkit::internals::Config| {
                c.key_prepublish = Some(Duration::from_secs(10));
            }) as Box<dyn Fn(&mut testkit::internals::Config)>,
            "ISSUER_KEY_PREPUBLISH",
        ),
        (
            Box::new(|c: &mut testkit::internals::Config| {
                c.key_retire_delay = Some(Duration::from_secs(60));
            }),
            "ISSUER_KEY_RETIRE_DELAY",
        ),
        (
            Box::new(|c: &mut testkit::internals::Config| {
                c.rotation_period = Duration::from_secs(600);
            }),
            "ISSUER_KEY_ROTATION_PERIOD",
        ),
    ] {
        let mut config = test_config(dir.path(), "http://127.0.0.1:1");
        crate::helpers::ensure_database(&config.database_url).await;
        tweak(&mut config);
        let err = Application::build(config).await.expect_err("refused");
        let text = err.to_string();
        assert!(text.contains(var), "{text}");
        assert!(text.contains("at least"), "{text}");
    }

    // Through the environment, as an operator meets it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_issuer"))
        .arg("serve")
        .env(
            "ISSUER_DATABASE_URL",
            format!("sqlite:{}", dir.path().join("x.db").display()),
        )
        .env("ISSUER_JWKS_MAX_AGE", "86400")
        .env("ISSUER_KEY_ROTATION_PERIOD", "1d")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ISSUER_KEY_ROTATION_PERIOD"), "{stderr}");
    assert!(stderr.contains("published long enough"), "{stderr}");
    assert!(
        !dir.path().join("x.db").exists(),
        "refused before touching the store"
    );
}
