//! Zero failed verifications across key rotations: a real issuer with short
//! key timings and a real resource-api whose jwks-client defaults are scaled
//! down the same way. While a loop keeps issuing tokens and calling the
//! resource service, two scheduled rotations and one manual rotation happen;
//! no valid request may be refused, no request may need an unknown-`kid`
//! refresh, and JWKS fetches stay within what the cache settings predict.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use shared::admin::RotateResponse;
use testkit::fixtures::Fixtures;
use testkit::{TestApp, kid_of};

use crate::helpers::{resource_settings, spawn_resource};

const SECRET: &str = "rotation-secret-0123456789";

/// JWKS max-age 1 s and margin 1 s: pre-publication lead 3 s. Access tokens
/// live 2 s, so a retiring key stays 4 s. Scheduled rotation every 5 s.
const MAX_AGE: u64 = 1;
const TTL: u64 = 2;

struct Issuer {
    url: String,
    http: reqwest::Client,
    app: TestApp,
}

async fn spawn_issuer() -> Issuer {
    let app = testkit::spawn_app_with(|c| {
        c.access_token_ttl = Duration::from_secs(TTL);
        c.jwks_max_age = Duration::from_secs(MAX_AGE);
        c.key_margin = Duration::from_secs(1);
        c.rotation_period = Duration::from_secs(5);
    })
    .await;
    let url = app.address.clone();
    app.seed(
        &Fixtures::new()
            .client("svc", Some(SECRET), &["items:read"], &["orders"])
            .client("ops", Some(SECRET), &["keys:admin"], &[&url]),
    )
    .await;
    Issuer {
        url,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        app,
    }
}

impl Issuer {
    async fn token(&self, client: &str) -> String {
        let res = self
            .http
            .post(format!("{}/oauth2/token", self.url))
            .basic_auth(client, Some(SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn active_kid(&self, admin: &str) -> String {
        let list: shared::admin::KeyList = self
            .http
            .get(format!("{}/admin/keys", self.url))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list.active_kid.unwrap()
    }
}

/// Sum of the samples of one counter in a Prometheus text page.
fn counter(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[tokio::test]
async fn rotations_refuse_no_valid_request() {
    let issuer = spawn_issuer().await;
    let mut settings = resource_settings(&issuer.url, "orders");
    // jwks-client defaults (5 min .. 24 h, 30 s cooldown) scaled to a 1 s
    // max-age: the issuer's max-age is honoured down to 1 s.
    settings.jwks_min_ttl = Duration::from_secs(1);
    settings.jwks_max_ttl = Duration::from_secs(60);
    settings.jwks_cooldown = Duration::from_secs(30);
    settings.leeway = Duration::from_secs(1);
    let resource = spawn_resource(settings).await;

    let admin = issuer.token("ops").await;
    let first = issuer.active_kid(&admin).await;
    let started = Instant::now();
    let mut manual: Option<RotateResponse> = None;
    let mut signers: Vec<String> = vec![first];
    // Tokens kept and replayed while young: old-key tokens after a switch.
    let mut recent: Vec<(Instant, String)> = Vec::new();
    let (mut ok, mut refused) = (0u64, 0u64);
    let mut refusals = Vec::new();
    while started.elapsed() < Duration::from_secs(25) {
        let token = issuer.token("svc").await;
        let kid = kid_of(&token);
        if signers.last() != Some(&kid) {
            signers.push(kid);
        }
        recent.push((Instant::now(), token));
        // Valid for 2 s from issuance (whole seconds): replay while < 1 s old.
        recent.retain(|(at, _)| at.elapsed() < Duration::from_millis(900));
        for (_, token) in [recent.first().unwrap(), recent.last().unwrap()] {
            let res = resource.get("/v1/items", Some(token)).await;
            if res.status() == StatusCode::OK {
                ok += 1;
            } else {
                refused += 1;
                refusals.push((started.elapsed(), res.status(), kid_of(token)));
            }
        }
        // One manual rotation after the first scheduled one.
        if manual.is_none() && signers.len() == 2 {
            let res = issuer
                .http
                .post(format!("{}/admin/keys/rotate", issuer.url))
                .bearer_auth(issuer.token("ops").await)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            manual = Some(res.json().await.unwrap());
        }
        // Done once a scheduled rotation followed the manual one, plus one
        // token lifetime so the previous key's tokens ran out.
        if signers.len() == 4 && started.elapsed() > Duration::from_secs(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    assert_eq!(refused, 0, "refused valid requests: {refusals:?}");
    assert!(ok > 100, "the loop ran ({ok} requests)");
    let manual = manual.expect("a manual rotation happened");
    assert_eq!(
        signers.len(),
        4,
        "scheduled, manual, scheduled: signers {signers:?} in {elapsed:?}"
    );
    assert_eq!(signers[2], manual.active_kid);
    assert_eq!(manual.retiring_kid.as_deref(), Some(signers[1].as_str()));
    assert_eq!(signers[3], manual.pending_kid);

    // No request needed a forced refresh: every key was cached before use.
    let page = resource.get("/metrics", None).await.text().await.unwrap();
    assert_eq!(
        counter(&page, "resource_jwks_unknown_kid_refreshes"),
        0,
        "{page}"
    );
    // Fetches: at most one per refresh-ahead point of the shortest lifetime
    // (min_ttl 1 s, refresh at >= 80 % of it) plus the cold start; at least
    // one per rotation that changed the set.
    let fetches = counter(&page, "resource_jwks_fetch_ok")
        + counter(&page, "resource_jwks_fetch_not_modified");
    let most = (elapsed.as_secs_f64() / 0.8).ceil() as u64 + 2;
    assert!(
        fetches >= 3 && fetches <= most,
        "{fetches} fetches in {elapsed:?}, at most {most}"
    );
    let issuer_page = issuer.app.metrics().await;
    let served: u64 = issuer_page
        .lines()
        .filter(|l| l.starts_with("issuer_http_requests_total{") && l.contains("jwks.json"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(
        served >= fetches && served <= most + 1,
        "issuer served the JWKS {served} times"
    );
    println!(
        "{ok} requests, 0 refused, {fetches} JWKS fetches (issuer served {served}) in {elapsed:?}; signers {signers:?}"
    );
}
