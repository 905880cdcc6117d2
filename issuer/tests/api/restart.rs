//! Keys survive a restart and are never stored in plaintext.

use crate::helpers::{spawn_with, verify_with_jwks};

const ISSUER: &str = "http://issuer.test";

/// The DER prefix of a PKCS#8 RSA private key of 2048 bits:
/// SEQUENCE, INTEGER 0, SEQUENCE { OID rsaEncryption }.
const PKCS8_RSA_PREFIX_TAIL: [u8; 15] = [
    0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
];

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn restart_keeps_keys_and_tokens_stay_valid() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn_with(dir.path(), Some(ISSUER), |_| {})
        .await
        .with_fixtures()
        .await;
    let res = first.password_login("alice", "correct horse battery").await;
    assert_eq!(res.status().as_u16(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let jwks_before = first.jwks().await;
    let database_url = first.database_url.clone();
    first.stop().await;

    let second = spawn_with(dir.path(), Some(ISSUER), |_| {}).await;
    let jwks_after = second.jwks().await;
    assert_eq!(jwks_before, jwks_after, "same keys after restart");
    let claims = verify_with_jwks(&token, &jwks_after, ISSUER, "orders");
    assert_eq!(claims.sub, "alice");
    // The restarted issuer signs with the same active key.
    let res = second
        .password_login("alice", "correct horse battery")
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    let new_token = body["access_token"].as_str().unwrap();
    let kid_before = jsonwebtoken::decode_header(&token).unwrap().kid;
    let kid_after = jsonwebtoken::decode_header(new_token).unwrap().kid;
    assert_eq!(kid_before, kid_after);
    second.stop().await;

    // No plaintext private key anywhere in the database files.
    let keys = {
        let store = testkit::internals::Store::connect(&database_url, 1)
            .await
            .unwrap();
        let keys = store.list_keys().await.unwrap();
        store.close().await;
        keys
    };
    assert_eq!(keys.len(), 2);
    let kek = testkit::internals::Kek::new(&crate::helpers::KEK).unwrap();
    let mut ders = Vec::new();
    for key in &keys {
        let der = kek
            .open(&key.kid, key.private_key.as_deref().unwrap())
            .unwrap();
        assert!(
            contains(&der, &PKCS8_RSA_PREFIX_TAIL),
            "decrypted form is PKCS#8"
        );
        ders.push(der);
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, &PKCS8_RSA_PREFIX_TAIL),
            "{}",
            path.display()
        );
        assert!(!contains(&bytes, b"PRIVATE KEY"), "{}", path.display());
        for der in &ders {
            // Any 64-byte window of the private key would do; use the middle.
            let mid = &der[der.len() / 2..der.len() / 2 + 64];
            assert!(!contains(&bytes, mid), "{}", path.display());
        }
    }
}

#[tokio::test]
async fn wrong_kek_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn_with(dir.path(), Some(ISSUER), |_| {}).await;
    first.stop().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = crate::helpers::test_config(dir.path(), ISSUER);
    crate::helpers::ensure_database(&config.database_url).await;
    config.kek = testkit::internals::KekSource::Inline(service_kit::config::Secret::new([1u8; 32]));
    let err = testkit::internals::Application::build_with_listener(config, listener)
        .await
        .expect_err("start-up fails");
    assert!(err.to_string().contains("ISSUER_KEK"), "{err}");
}

#[tokio::test]
async fn generated_kek_file_is_private() {
    let dir = tempfile::tempdir().unwrap();
    // The generated file sits next to a SQLite database.
    let sqlite = format!("sqlite:{}", dir.path().join("issuer.db").display());
    let app = spawn_with(dir.path(), None, |c| {
        c.kek = testkit::internals::KekSource::Generated;
        c.database_url = sqlite.clone();
    })
    .await;
    app.stop().await;
    let kek_path = dir.path().join("issuer.db.kek");
    let text = std::fs::read_to_string(&kek_path).unwrap();
    assert!(testkit::internals::parse_kek(&text).is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kek_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A second start reuses it.
    let again = spawn_with(dir.path(), None, |c| {
        c.kek = testkit::internals::KekSource::Generated;
        c.database_url = sqlite.clone();
    })
    .await;
    again.stop().await;
}
