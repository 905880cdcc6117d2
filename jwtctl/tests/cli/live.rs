//! `token`, `call` and `inspect --issuer` against a real issuer and resource
//! service on loopback.

use std::time::Duration;

use crate::helpers::{CLIENT_ID, CLIENT_SECRET, PASSWORD, jwtctl, spawn_issuer, spawn_resource};

fn export_value(stdout: &str, name: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("export {name}=")))
        .unwrap_or_else(|| panic!("no {name} in {stdout}"));
    line.split_once('=')
        .unwrap()
        .1
        .trim_matches('\'')
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_call_and_verified_inspect_against_real_services() {
    let issuer = spawn_issuer(|_| {}).await;
    let orders = spawn_resource(&issuer.url, "orders", Duration::from_secs(300)).await;
    let env = [("JWTCTL_CLIENT_SECRET", CLIENT_SECRET)];

    // Password grant, secret from env, password from stdin, shell exports.
    let out = jwtctl(
        &[
            "token",
            "password",
            "--issuer",
            &issuer.url,
            "--client-id",
            CLIENT_ID,
            "--username",
            "alice",
            "--password-stdin",
            "--scope",
            "items:read",
            "--audience",
            "orders",
            "--export",
        ],
        &env,
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let token = export_value(&out.stdout, "TOKEN");
    let refresh = export_value(&out.stdout, "REFRESH_TOKEN");
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains(PASSWORD) && !text.contains(CLIENT_SECRET),
            "a secret was echoed"
        );
    }

    // call with $TOKEN: 200 and the body.
    let out = jwtctl(
        &["call", &format!("{orders}/v1/me")],
        &[("TOKEN", &token)],
        "",
    )
    .await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("HTTP 200"), "{}", out.stdout);
    assert!(out.stdout.contains("alice"), "{}", out.stdout);

    // Without a token: 401, the challenge and exit code 1.
    let out = jwtctl(&["call", &format!("{orders}/v1/me"), "--no-token"], &[], "").await;
    assert_eq!(out.code, 1);
    assert!(out.stdout.starts_with("HTTP 401"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("WWW-Authenticate: Bearer realm=\"orders\""),
        "{}",
        out.stdout
    );

    // No token anywhere: a usage error naming the variable.
    let out = jwtctl(&["call", &format!("{orders}/v1/me")], &[], "").await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no token: set TOKEN"), "{}", out.stderr);

    // Refresh grant from $REFRESH_TOKEN.
    let out = jwtctl(
        &[
            "token",
            "refresh",
            "--issuer",
            &issuer.url,
            "--client-id",
            CLIENT_ID,
            "--export",
        ],
        &[
            ("JWTCTL_CLIENT_SECRET", CLIENT_SECRET),
            ("REFRESH_TOKEN", &refresh),
        ],
        "",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_ne!(export_value(&out.stdout, "REFRESH_TOKEN"), refresh);

    // Client credentials, plain output.
    let out = jwtctl(
        &[
            "token",
            "client",
            "--issuer",
            &issuer.url,
            "--client-id",
            CLIENT_ID,
            "--scope",
            "items:read",
            "--audience",
            "billing",
        ],
        &env,
        "",
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim().split('.').count(), 3, "{}", out.stdout);

    // Wrong password: the RFC 6749 error, exit 1.
    let out = jwtctl(
        &[
            "token",
            "password",
            "--issuer",
            &issuer.url,
            "--client-id",
            CLIENT_ID,
            "--username",
            "alice",
            "--password-stdin",
        ],
        &env,
        "wrong password\n",
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("invalid_grant"), "{}", out.stderr);
    assert!(!out.stderr.contains("wrong password"), "{}", out.stderr);

    // Missing secret: usage error naming the variable.
    let out = jwtctl(
        &[
            "token",
            "client",
            "--issuer",
            &issuer.url,
            "--client-id",
            CLIENT_ID,
        ],
        &[],
        "",
    )
    .await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("JWTCTL_CLIENT_SECRET is not set"),
        "{}",
        out.stderr
    );

    // inspect --issuer verifies through jwks-client.
    let out = jwtctl(&["inspect", &token, "--issuer", &issuer.url], &[], "").await;
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Signature: VALID"), "{}", out.stdout);
    let jwks = format!("{}/.well-known/jwks.json", issuer.url);
    let out = jwtctl(
        &["inspect", &token, "--jwks", &jwks, "--audience", "billing"],
        &[],
        "",
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("`aud` does not contain"),
        "{}",
        out.stdout
    );

    // A tampered signature says exactly that.
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let sig = &mut parts[2];
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(0..1, flipped);
    let tampered = parts.join(".");
    let out = jwtctl(
        &["inspect", &tampered, "--issuer", &issuer.url, "--json"],
        &[],
        "",
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["verification"]["valid"], false);
    assert!(
        doc["verification"]["reason"]
            .as_str()
            .unwrap()
            .contains("signature does not match"),
        "{doc}"
    );

    // Unreachable URLs: a clear sentence, not a panic.
    let out = jwtctl(&["call", "http://127.0.0.1:1/v1/me", "--no-token"], &[], "").await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("cannot reach http://127.0.0.1:1/v1/me"),
        "{}",
        out.stderr
    );
    let out = jwtctl(
        &[
            "token",
            "client",
            "--issuer",
            "http://127.0.0.1:1",
            "--client-id",
            CLIENT_ID,
        ],
        &env,
        "",
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("cannot reach"), "{}", out.stderr);
    let out = jwtctl(
        &[
            "inspect",
            &token,
            "--jwks",
            "http://127.0.0.1:1/.well-known/jwks.json",
        ],
        &[],
        "",
    )
    .await;
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("could not be fetched"),
        "{}",
        out.stdout
    );
}
