//! Writes the seed corpora in `fuzz/corpus/` (valid and hostile examples of
//! each input). Run from the repository root after a change to what the
//! seeds should cover; the files are committed, so a run replaces them:
//!
//! ```sh
//! cargo fuzz build -s none seeds && fuzz/target/x86_64-unknown-linux-gnu/release/seeds
//! ```
//!
//! Tokens are signed with keys generated here, which the `jws` target does
//! not trust: as text they exercise the parser and the refusals; the
//! `{header}\npayload` seeds are signed by the target itself.

// Linked for the coverage hooks the fuzz build instruments this binary with;
// its own `main` wins over libFuzzer's.
use libfuzzer_sys as _;
use std::fs;
use std::path::Path;

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use shared::jwk::Jwk;
use testkit::forge::{self, Key};

/// The `jws` target's issuer, audience and key id.
const ISSUER: &str = "https://issuer.fuzz.test";
const AUDIENCE: &str = "fuzz-api";
const KID: &str = "fuzz-key";
/// 2100-01-01: seeds that stay within their lifetime.
const FAR: i64 = 4_102_444_800;

fn write(target: &str, seeds: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let dir = Path::new("fuzz/corpus").join(target);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    for (name, bytes) in seeds {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        fs::write(dir.join(name), bytes)?;
    }
    println!("fuzz/corpus/{target}: {} seeds", seeds.len());
    Ok(())
}

fn seed(name: &str, bytes: impl Into<Vec<u8>>) -> (String, Vec<u8>) {
    (name.to_owned(), bytes.into())
}

fn jws() -> Vec<(String, Vec<u8>)> {
    let (key, other) = (Key::generate(), Key::generate());
    let claims = json!({
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "exp": FAR,
        "iat": 1_700_000_000, "nbf": 1_700_000_000, "jti": "j1",
        "client_id": "web", "scope": "items:read", "roles": ["admin"],
    });
    let mut seeds: Vec<_> = forge::hostile_tokens(&key, &other, &claims, "http://127.0.0.1:9/x")
        .into_iter()
        .filter(|(_, token)| token.len() <= 9000)
        .map(|(name, token)| seed(&format!("token-{name}"), token))
        .collect();
    seeds.push(seed(
        "token-valid-shape",
        key.sign(&forge::header(KID), &claims),
    ));
    // Signed by the target: `{header JSON}\npayload JSON`.
    let header = |alg: &str| json!({"alg": alg, "typ": "at+jwt", "kid": KID}).to_string();
    let c = claims.to_string();
    for (name, text) in [
        ("json-valid-rs256", format!("{}\n{c}", header("RS256"))),
        ("json-valid-ps256", format!("{}\n{c}", header("PS256"))),
        (
            "json-rs512-not-allowed",
            format!("{}\n{c}", header("RS512")),
        ),
        (
            "json-audience-list",
            format!(
                "{}\n{}",
                header("RS256"),
                forge::with(claims.clone(), "aud", json!(["x", AUDIENCE]))
            ),
        ),
        (
            "json-expired",
            format!(
                "{}\n{}",
                header("RS256"),
                forge::with(claims.clone(), "exp", json!(1))
            ),
        ),
        (
            "json-no-jti",
            format!(
                "{}\n{}",
                header("RS256"),
                forge::without(claims.clone(), "jti")
            ),
        ),
        (
            "json-typ-with-prefix",
            format!(
                "{}\n{c}",
                json!({"alg": "RS256", "typ": "application/AT+JWT", "kid": KID})
            ),
        ),
        (
            "json-no-kid",
            format!("{}\n{c}", json!({"alg": "RS256", "typ": "at+jwt"})),
        ),
        (
            "json-duplicate-exp",
            format!(
                "{}\n{}",
                header("RS256"),
                c.replacen('{', &format!("{{\"exp\":{FAR},"), 1)
            ),
        ),
    ] {
        seeds.push(seed(name, text));
    }
    seeds
}

fn jwks() -> Vec<(String, Vec<u8>)> {
    let key = Key::generate();
    let big = KeyPair::generate(KeySize::Rsa4096).expect("RSA-4096 key");
    let big = Jwk::rsa_signing_key(big.public_key());
    let good = serde_json::to_value(&key.jwk).expect("jwk");
    let member = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut m = good.clone();
        edit(&mut m);
        m
    };
    let doc = |keys: Vec<serde_json::Value>| json!({ "keys": keys }).to_string();
    let short = Jwk::rsa_signing(&[0xC1; 128], &[1, 0, 1]);
    vec![
        seed("one-key", doc(vec![good.clone()])),
        seed(
            "two-keys-4096",
            doc(vec![good.clone(), serde_json::to_value(&big).expect("jwk")]),
        ),
        seed("empty", doc(vec![])),
        seed("not-a-set", r#"{"kty":"RSA"}"#),
        seed("keys-not-array", r#"{"keys":{}}"#),
        seed("duplicate-kid", doc(vec![good.clone(), good.clone()])),
        seed(
            "private-member",
            doc(vec![member(&|m| m["d"] = json!("AQAB"))]),
        ),
        seed(
            "no-kid",
            doc(vec![member(&|m| {
                m.as_object_mut().map(|o| o.remove("kid"));
            })]),
        ),
        seed("exponent-3", doc(vec![member(&|m| m["e"] = json!("Aw"))])),
        seed(
            "modulus-1024",
            doc(vec![serde_json::to_value(&short).expect("jwk")]),
        ),
        seed("use-enc", doc(vec![member(&|m| m["use"] = json!("enc"))])),
        seed(
            "key-ops-sign",
            doc(vec![member(&|m| m["key_ops"] = json!(["sign"]))]),
        ),
        seed(
            "alg-hs256",
            doc(vec![member(&|m| m["alg"] = json!("HS256"))]),
        ),
        seed(
            "ec-key",
            doc(vec![
                json!({"kty": "EC", "crv": "P-256", "kid": "ec", "x": "AA", "y": "AA"}),
            ]),
        ),
        seed(
            "padded-n",
            doc(vec![member(&|m| {
                m["n"] = json!(format!("{}=", m["n"].as_str().unwrap_or("")))
            })]),
        ),
        seed(
            "member-not-object",
            doc(vec![json!("RSA"), json!(7), json!(null)]),
        ),
    ]
}

fn form() -> Vec<(String, Vec<u8>)> {
    [
        (
            "client-credentials",
            "grant_type=client_credentials&scope=items%3Aread+items%3Awrite",
        ),
        (
            "password",
            "grant_type=password&username=alice&password=s%C3%A9cret+word&client_id=web",
        ),
        (
            "refresh",
            "grant_type=refresh_token&refresh_token=3q2-7wAAAAAAAAAAAAAAAA&client_id=web",
        ),
        ("raw-space", "scope=items:read items:write"),
        ("empty-value", "a=&b=1"),
        ("empty-pairs", "&&a=1&&"),
        ("repeated", "a=1&a=2"),
        ("bad-escape", "a=%zz"),
        ("short-escape", "a=%4"),
        ("invalid-utf8", "a=%ff%fe"),
        ("no-equals", "novalue"),
        ("empty-name", "=x"),
        ("json", "{\"grant_type\": \"password\"}"),
        ("control", "a=1\n&b=2"),
        ("encoded-control", "a=%00%0A"),
    ]
    .into_iter()
    .map(|(n, t)| seed(n, t))
    .chain([
        seed(
            "too-many",
            (0..40)
                .map(|i| format!("p{i}=1"))
                .collect::<Vec<_>>()
                .join("&"),
        ),
        seed("long-value", format!("v={}", "x".repeat(4097))),
        seed("long-name", format!("{}=1", "n".repeat(65))),
    ])
    .collect()
}

fn basic() -> Vec<(String, Vec<u8>)> {
    let b = |text: &str| format!("Basic {}", STANDARD.encode(text));
    vec![
        seed("plain", b("web:s3cret")),
        seed("encoded", "Basic bXklM0FhcHA6cyUyNmsrMQ=="),
        seed(
            "lowercase-scheme",
            b("web:s3cret").replace("Basic", "basic"),
        ),
        seed("empty-secret", b("web:")),
        seed("empty-id", b(":secret")),
        seed("no-colon", b("web")),
        seed("bad-escape", b("web:%zz")),
        seed("invalid-utf8-escape", b("web:%ff")),
        seed("utf8", b("caf%C3%A9:p%C3%A4ss")),
        seed("bearer", "Bearer abc.def.ghi"),
        seed("bad-base64", "Basic !!!!"),
        seed("unpadded", "Basic d2ViOnMzY3JldA"),
        seed("spaces", "Basic   d2ViOnMzY3JldA==  "),
        // Decoded credential text: the target also base64-encodes its input.
        seed("raw-credentials", "web%3Aapp:s%26k+1"),
    ]
}

fn cookie() -> Vec<(String, Vec<u8>)> {
    [
        ("one", "issuer_refresh=3q2-7wAAAAAAAAAAAAAAAA"),
        ("among-others", "theme=dark; issuer_refresh=abc; lang=en"),
        (
            "two-headers",
            "a=1\nissuer_refresh=first\nissuer_refresh=second; b=2",
        ),
        ("empty-value", "issuer_refresh=; issuer_refresh=kept"),
        ("no-equals", "issuer_refresh; x"),
        (
            "similar-names",
            "issuer_refresh2=1; Issuer_Refresh=2; xissuer_refresh=3",
        ),
        ("equals-in-value", "issuer_refresh=a=b=c"),
        ("whitespace", "  issuer_refresh=v \t;  ;;"),
    ]
    .into_iter()
    .map(|(n, t)| seed(n, t))
    .collect()
}

fn main() -> std::io::Result<()> {
    write("jws", &jws())?;
    write("jwks", &jwks())?;
    write("form", &form())?;
    write("basic", &basic())?;
    write("cookie", &cookie())?;
    Ok(())
}
