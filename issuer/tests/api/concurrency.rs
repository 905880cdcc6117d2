//! Two `issuer serve` processes on one database (SQLite file, or
//! PostgreSQL in the CI pass): they bootstrap an empty key table together
//! and receive a rotate request at the same moment.

use std::time::Duration;

use testkit::internals::KeyState;

use crate::procs::{self, SECRET};

#[tokio::test]
async fn two_processes_bootstrap_and_rotate_once() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = crate::helpers::test_database_url(dir.path());
    // Users and clients, no keys yet.
    let store = procs::seed(&db_url).await;

    // Both start on the empty key table at once.
    let (a, b) = tokio::join!(procs::start(&db_url, &[]), procs::start(&db_url, &[]));
    let (url_a, url_b) = (a.url.clone(), b.url.clone());

    let keys = store.list_keys().await.unwrap();
    assert_eq!(keys.len(), 2, "one active and one pending key: {keys:?}");
    assert_eq!(
        keys.iter().filter(|k| k.state == KeyState::Active).count(),
        1
    );

    let http = procs::http();
    let res = http
        .post(format!("{url_a}/oauth2/token"))
        .basic_auth("ops", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let token = res.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotate = |url: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            http.post(format!("{url}/admin/keys/rotate"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let (sa, sb) = tokio::join!(rotate(url_a.clone()), rotate(url_b.clone()));
    let mut statuses = [sa, sb];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "one rotation wins, the other is told");

    let after = store.list_keys().await.unwrap();
    assert_eq!(after.len(), 3, "exactly one new key: {after:?}");
    assert_eq!(
        after.iter().filter(|k| k.state == KeyState::Active).count(),
        1
    );
    assert_eq!(
        after
            .iter()
            .filter(|k| k.state == KeyState::Pending)
            .count(),
        2
    );
    let new_kid = after
        .iter()
        .find(|k| !keys.iter().any(|old| old.kid == k.kid))
        .unwrap()
        .kid
        .clone();

    // The instance that lost publishes the new key within its key sync
    // (every second).
    let mut seen = [false, false];
    for _ in 0..40 {
        for (i, url) in [&url_a, &url_b].into_iter().enumerate() {
            let jwks: serde_json::Value = http
                .get(format!("{url}/.well-known/jwks.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            seen[i] = jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == new_kid.as_str());
        }
        if seen == [true, true] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, [true, true], "both instances serve the new key");
    store.close().await;
}
