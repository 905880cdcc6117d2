//! Bad input: every refusal is an RFC 6749 JSON body, never a 500, never an
//! echo of a password or secret.

use crate::helpers::{expect_oauth_error, spawn_app};

const SECRET_PASSWORD: &str = "p4ssw0rd-that-must-not-leak";

#[tokio::test]
async fn wrong_password_and_unknown_user_get_identical_bodies() {
    let app = spawn_app().await.with_fixtures().await;
    let wrong = app.password_login("alice", SECRET_PASSWORD).await;
    let (_, wrong_body) = expect_oauth_error(wrong, 400, "invalid_grant").await;
    let unknown = app.password_login("mallory", SECRET_PASSWORD).await;
    let (_, unknown_body) = expect_oauth_error(unknown, 400, "invalid_grant").await;
    assert_eq!(wrong_body, unknown_body);
    assert!(!wrong_body.contains(SECRET_PASSWORD));
    assert!(!wrong_body.contains("alice") && !unknown_body.contains("mallory"));
    let events = app.store.audit_kinds(10).await.unwrap();
    assert!(
        events
            .iter()
            .any(|(k, s)| k == "login_failed" && s.as_deref() == Some("alice"))
    );
}

#[tokio::test]
async fn missing_grant_type_is_invalid_request() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app
        .post_token(&[("username", "alice"), ("password", SECRET_PASSWORD)])
        .await;
    let (_, body) = expect_oauth_error(res, 400, "invalid_request").await;
    assert!(!body.contains(SECRET_PASSWORD));
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app
        .post_token(&[("grant_type", "authorization_code"), ("code", "x")])
        .await;
    expect_oauth_error(res, 400, "unsupported_grant_type").await;
}

#[tokio::test]
async fn malformed_forms_are_invalid_request_json() {
    let app = spawn_app().await.with_fixtures().await;
    for body in [
        "grant_type=password&password=%zz",
        "grant_type=password&grant_type=client_credentials",
        "{\"grant_type\":\"password\"}",
        "grant_type=password&username=%ff%fe",
    ] {
        let res = app
            .post_raw("application/x-www-form-urlencoded", body.to_owned())
            .await;
        expect_oauth_error(res, 400, "invalid_request").await;
    }
    let res = app
        .post_raw("application/json", r#"{"grant_type":"password"}"#)
        .await;
    expect_oauth_error(res, 400, "invalid_request").await;
    let res = app
        .post_raw(
            "application/x-www-form-urlencoded",
            vec![0xffu8, 0x00, 0x3d],
        )
        .await;
    expect_oauth_error(res, 400, "invalid_request").await;
}

#[tokio::test]
async fn oversized_body_is_413_json() {
    let app = spawn_app().await.with_fixtures().await;
    let big = format!(
        "grant_type=password&username=alice&password={}",
        "a".repeat(70 * 1024)
    );
    let res = app.post_raw("application/x-www-form-urlencoded", big).await;
    let (_, body) = expect_oauth_error(res, 413, "invalid_request").await;
    assert!(body.len() < 200);
    // Without Content-Length (chunked), the cap still holds.
    let addr = app.address.trim_start_matches("http://").to_owned();
    let response = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let head = "POST /oauth2/token HTTP/1.1\r\nHost: x\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).unwrap();
        let chunk = format!("400\r\n{}\r\n", "a".repeat(1024));
        for _ in 0..80 {
            if stream.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("\"error\":\"invalid_request\""),
        "{response}"
    );
}

#[tokio::test]
async fn wrong_client_secret_is_401_with_basic_challenge() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app
        .post_token_basic(
            "web",
            "not-the-secret",
            &[("grant_type", "client_credentials")],
        )
        .await;
    let (headers, body) = expect_oauth_error(res, 401, "invalid_client").await;
    assert_eq!(headers["www-authenticate"], r#"Basic realm="issuer""#);
    let events = app.store.audit_kinds(5).await.unwrap();
    assert_eq!(events[0].0, "client_auth_failed");
    assert!(!body.contains("not-the-secret"));
    // Form credentials and an unknown client get the same answer.
    let res = app
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "x"),
        ])
        .await;
    expect_oauth_error(res, 401, "invalid_client").await;
    // No client at all.
    let res = app
        .post_token(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "x"),
        ])
        .await;
    expect_oauth_error(res, 401, "invalid_client").await;
}

#[tokio::test]
async fn over_broad_scope_or_audience_is_invalid_scope() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app
        .post_token_web(&[
            ("grant_type", "client_credentials"),
            ("scope", "items:read admin:all"),
        ])
        .await;
    expect_oauth_error(res, 400, "invalid_scope").await;
    let res = app
        .post_token_web(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("audience", "payroll"),
        ])
        .await;
    expect_oauth_error(res, 400, "invalid_scope").await;
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    let app = spawn_app().await.with_fixtures().await;
    for _ in 0..5 {
        let res = app.password_login("alice", SECRET_PASSWORD).await;
        expect_oauth_error(res, 400, "invalid_grant").await;
    }
    // Now even the right password waits.
    let res = app.password_login("alice", "correct horse battery").await;
    let (headers, body) = expect_oauth_error(res, 429, "temporarily_unavailable").await;
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    assert!(!body.contains(SECRET_PASSWORD));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("issuer_login_failures_total{reason=\"invalid_grant\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn missing_username_or_password_is_invalid_request() {
    let app = spawn_app().await.with_fixtures().await;
    let res = app
        .post_token_web(&[("grant_type", "password"), ("username", "alice")])
        .await;
    expect_oauth_error(res, 400, "invalid_request").await;
}

#[tokio::test]
async fn database_unavailable_is_503_not_500() {
    let app = spawn_app().await.with_fixtures().await;
    // The test's store handle shares the server's pool: closing it takes the
    // database away from the running server.
    app.store.close().await;
    let res = app.password_login("alice", "correct horse battery").await;
    let (headers, body) = expect_oauth_error(res, 503, "temporarily_unavailable").await;
    assert!(headers.contains_key("retry-after"));
    assert!(
        !body.to_lowercase().contains("pool"),
        "no internal detail: {body}"
    );
    let ready = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
}
