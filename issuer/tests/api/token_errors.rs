//! Bad input: every refusal is an RFC 6749 JSON body, never a 500, never an
//! echo of a password or secret.

use testkit::fixtures::{WEB, WEB_SECRET};

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

/// `Basic base64(id:secret)` (ids and secrets here need no form encoding).
fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    format!("Basic {encoded}")
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_request_in_either_order() {
    let app = spawn_app().await.with_fixtures().await;
    let good = basic(WEB, WEB_SECRET);
    let bad = basic(WEB, "not-the-secret");
    let form: &[(&str, &str)] = &[("grant_type", "client_credentials"), ("token", "x")];
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"] {
        for (first, second) in [(&good, &bad), (&bad, &good), (&good, &good)] {
            let res = app
                .http
                .post(format!("{}{path}", app.address))
                .header("authorization", first.as_str())
                .header("authorization", second.as_str())
                .form(form)
                .send()
                .await
                .unwrap();
            let (_, body) = expect_oauth_error(res, 400, "invalid_request").await;
            assert!(body.contains("Authorization"), "{path}: {body}");
            assert!(!body.contains(WEB_SECRET), "{path}: {body}");
        }
        // One header of the two alone authenticates (no second method).
        let res = app.post_form(path, Some((WEB, WEB_SECRET)), form).await;
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn basic_plus_client_secret_in_the_body_is_invalid_request() {
    let app = spawn_app().await.with_fixtures().await;
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"] {
        // The same secret both ways is still two methods.
        let res = app
            .post_form(
                path,
                Some((WEB, WEB_SECRET)),
                &[
                    ("grant_type", "client_credentials"),
                    ("token", "x"),
                    ("client_secret", WEB_SECRET),
                ],
            )
            .await;
        let (_, body) = expect_oauth_error(res, 400, "invalid_request").await;
        assert!(!body.contains(WEB_SECRET), "{path}: {body}");
    }
    // Form credentials alone are one method.
    let res = app
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
        ])
        .await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test]
async fn a_form_in_another_charset_is_refused_utf8_is_accepted() {
    let app = spawn_app().await.with_fixtures().await;
    let form = format!("grant_type=client_credentials&client_id={WEB}&client_secret={WEB_SECRET}");
    for content_type in [
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/x-www-form-urlencoded; charset=ISO-8859-1",
        "application/x-www-form-urlencoded;charset=\"utf-16le\"",
        "application/x-www-form-urlencoded; charset=utf-8; charset=utf-16",
    ] {
        let res = app.post_raw(content_type, form.clone()).await;
        let (_, body) = expect_oauth_error(res, 400, "invalid_request").await;
        assert!(body.contains("UTF-8"), "{content_type}: {body}");
    }
    for content_type in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded;charset=utf-8",
        "application/x-www-form-urlencoded; Charset=\"Utf-8\"",
    ] {
        let res = app.post_raw(content_type, form.clone()).await;
        assert_eq!(res.status().as_u16(), 200, "{content_type}");
    }
}

/// Asserts a JSON 404 or 405 body that does not echo `path`; returns the
/// response's headers.
async fn expect_fallback(
    res: reqwest::Response,
    status: u16,
    code: &str,
    path: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(res.status().as_u16(), status, "{path}");
    let headers = res.headers().clone();
    assert_eq!(headers["content-type"], "application/json", "{path}");
    let body = res.text().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], code, "{path}: {body}");
    assert!(json["error_description"].is_string(), "{body}");
    assert!(
        !body.contains(path.trim_start_matches('/')),
        "{path}: {body}"
    );
    assert!(!body.contains("xyzzy"), "{path}: {body}");
    headers
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_json_404_and_405() {
    let app = spawn_app().await.with_fixtures().await;
    for path in [
        "/no-such-page-xyzzy",
        "/oauth2/tokenxyzzy",
        "/admin/xyzzy",
        "/.well-known/xyzzy?q=<script>",
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        expect_fallback(res, 404, "not_found", path).await;
    }
    for (method, path, allow) in [
        ("GET", "/oauth2/token", "POST"),
        ("PUT", "/oauth2/revoke", "POST"),
        ("DELETE", "/oauth2/introspect", "POST"),
        ("POST", "/.well-known/jwks.json", "GET"),
        ("PATCH", "/.well-known/openid-configuration", "GET"),
        ("POST", "/healthz", "GET"),
        ("DELETE", "/admin/keys", "GET"),
        ("GET", "/admin/keys/rotate", "POST"),
        ("GET", "/admin/keys/xyzzy/revoke", "POST"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = app
            .http
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let headers = expect_fallback(res, 405, "method_not_allowed", path).await;
        assert_eq!(headers["allow"], allow, "{method} {path}");
    }
    // The known routes still answer.
    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}
