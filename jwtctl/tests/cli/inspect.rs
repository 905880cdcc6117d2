//! `jwtctl inspect` offline: well-formed, expired, malformed and attack tokens.

use crate::helpers::jwtctl_sync;

fn b64(json: &str) -> String {
    shared::b64::encode(json.as_bytes())
}

fn token(header: &str, claims: &str) -> String {
    format!(
        "{}.{}.{}",
        b64(header),
        b64(claims),
        b64("not-a-real-signature")
    )
}

fn now() -> i64 {
    shared::now_unix()
}

fn good_claims(exp_offset: i64) -> String {
    let n = now();
    format!(
        r#"{{"iss":"http://127.0.0.1:8080","sub":"alice","aud":"orders","iat":{n},"nbf":{n},"exp":{},"jti":"j1","client_id":"cli","scope":"items:read"}}"#,
        n + exp_offset
    )
}

const GOOD_HEADER: &str = r#"{"alg":"RS256","typ":"at+jwt","kid":"k1"}"#;

#[test]
fn well_formed_token_is_pretty_printed_with_relative_times_and_no_warnings() {
    let t = token(GOOD_HEADER, &good_claims(8 * 60 + 30));
    let out = jwtctl_sync(&["inspect", &t], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\"sub\": \"alice\""), "{}", out.stdout);
    assert!(out.stdout.contains("expires in 8 min"), "{}", out.stdout);
    assert!(out.stdout.contains("Z  ("), "{}", out.stdout);
    assert!(out.stdout.contains("Warnings: none"), "{}", out.stdout);
    assert!(
        out.stdout.contains("Signature: not verified"),
        "{}",
        out.stdout
    );
}

#[test]
fn token_from_stdin_with_bearer_prefix_and_json_output() {
    let t = token(GOOD_HEADER, &good_claims(600));
    let out = jwtctl_sync(
        &["inspect", "-", "--json"],
        format!("Bearer {t}\n").as_bytes(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["header"]["kid"], "k1");
    assert_eq!(doc["claims"]["aud"], "orders");
    assert_eq!(doc["times"]["exp"]["relative"], "expires in 10 min");
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 0);
    assert_eq!(doc["verification"]["checked"], false);
}

#[test]
fn expired_token_says_how_long_ago_and_warns() {
    let t = token(GOOD_HEADER, &good_claims(-2 * 3600 - 100));
    let out = jwtctl_sync(&["inspect", &t, "--json"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["times"]["exp"]["relative"], "expired 2 h ago");
    let codes: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"expired"), "{codes:?}");
    // iat is now and exp two hours ago: no lifetime warning for a negative span.
    assert!(!codes.contains(&"long_lifetime"), "{codes:?}");
}

#[test]
fn alg_none_and_risky_contents_are_all_flagged() {
    let n = now();
    let claims = format!(
        r#"{{"iss":"x","aud":"orders","sub":"u","iat":{n},"nbf":{},"exp":{},"email":"a@b.c","phone_number":"123"}}"#,
        n + 600,
        n + 3 * 3600
    );
    let t = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT","jku":"http://evil"}"#),
        b64(&claims)
    );
    let out = jwtctl_sync(&["inspect", &t], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    for code in [
        "alg_none",
        "no_signature",
        "missing_kid",
        "typ",
        "embedded_key",
        "long_lifetime",
        "not_yet_valid",
        "personal_data",
    ] {
        assert!(
            out.stdout.contains(&format!("[{code}]")),
            "missing {code}: {}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("email, phone_number"), "{}", out.stdout);
}

#[test]
fn hs256_and_missing_exp_are_flagged() {
    let t = token(
        r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#,
        r#"{"iss":"x","aud":"a","sub":"s"}"#,
    );
    let out = jwtctl_sync(&["inspect", &t], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("[alg_hmac]") && out.stdout.contains("key-confusion"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("[missing_exp]"), "{}", out.stdout);
}

#[test]
fn malformed_input_is_a_clear_error_with_exit_code_2() {
    let cases: Vec<(String, &str)> = vec![
        ("garbage".into(), "three dot-separated segments"),
        ("a.b".into(), "three dot-separated segments"),
        ("a.b.c.d.e".into(), "encrypted JWT"),
        ("!!!.???.***".into(), "characters that cannot appear"),
        (
            format!("{}.{}.x", b64("[1,2]"), b64("{}")),
            "header is JSON but not an object",
        ),
        (
            format!("{}.{}.x", b64(GOOD_HEADER), b64("not json")),
            "claim set is not JSON",
        ),
        (format!("{}.%%%.x", b64(GOOD_HEADER)), "characters"),
        (format!("{}.A.x", b64(GOOD_HEADER)), "not base64url"),
        ("".into(), "no token"),
    ];
    for (input, expected) in cases {
        let out = jwtctl_sync(&["inspect", "-"], input.as_bytes());
        assert_eq!(out.code, 2, "input {input:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(expected),
            "input {input:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn huge_and_binary_input_is_refused_without_a_panic() {
    let huge = vec![b'a'; 1024 * 1024];
    let out = jwtctl_sync(&["inspect"], &huge);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("larger than 64 KiB"), "{}", out.stderr);

    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let out = jwtctl_sync(&["inspect"], &binary);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);

    // Big but well-formed: decoded, with the size warning.
    let pad = "x".repeat(9000);
    let t = token(
        GOOD_HEADER,
        &format!(
            r#"{{"iss":"i","aud":"a","sub":"s","exp":{},"pad":"{pad}"}}"#,
            now() + 60
        ),
    );
    let out = jwtctl_sync(&["inspect", "-"], t.as_bytes());
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("[too_large]"), "{}", out.stdout);
}

#[test]
fn help_shows_examples_for_every_subcommand() {
    for sub in ["inspect", "token", "call", "drill", "bench"] {
        let out = jwtctl_sync(&[sub, "--help"], b"");
        assert_eq!(out.code, 0, "{sub}: {}", out.stderr);
        assert!(
            out.stdout.contains("Example"),
            "{sub} help has no example: {}",
            out.stdout
        );
    }
}

#[test]
fn version_prints_the_package_version() {
    let out = jwtctl_sync(&["--version"], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        format!("jwtctl {}", env!("CARGO_PKG_VERSION"))
    );
}
