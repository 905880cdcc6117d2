//! Hand-made JWS tokens: RSA test keys, raw signing over exact header and
//! payload text, and [`hostile_tokens`], the one table of forged and
//! malformed tokens every verifier must refuse. Depends on no issuer code.

use std::sync::LazyLock;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, RsaEncoding};
use serde_json::{Value, json};
use shared::claims::{AccessClaims, Audience};
use shared::jwk::Jwk;

/// An RSA-2048 key pair with its public numbers and JWK (kid = RFC 7638
/// thumbprint).
#[derive(Debug)]
pub struct Key {
    pub pair: KeyPair,
    /// Modulus, big-endian, no leading zero.
    pub n: Vec<u8>,
    /// Public exponent, big-endian, no leading zero.
    pub e: Vec<u8>,
    pub jwk: Jwk,
}

impl Key {
    /// A fresh key (about 100 ms).
    pub fn generate() -> Key {
        Key::from_pair(KeyPair::generate(KeySize::Rsa2048).expect("keygen"))
    }

    /// The key in a PKCS#8 document (for instance an issuer's own signing
    /// key, read from its store by [`crate::TestApp::active_signing_key`]).
    pub fn from_pkcs8(der: &[u8]) -> Key {
        Key::from_pair(KeyPair::from_pkcs8(der).expect("PKCS#8 RSA key"))
    }

    fn from_pair(pair: KeyPair) -> Key {
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let jwk = Jwk::rsa_signing_key(public);
        Key { pair, n, e, jwk }
    }

    pub fn kid(&self) -> &str {
        self.jwk.kid.as_deref().unwrap_or_default()
    }

    /// The DER `RSAPublicKey` (what an HS256 confusion attack keys with).
    pub fn public_der(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// An RS256 token over `header` and `claims` as JSON values.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        sign_raw(
            self,
            &header.to_string(),
            &claims.to_string(),
            &signature::RSA_PKCS1_SHA256,
        )
    }
}

/// Three keys, generated once per test binary.
pub static KEYS: LazyLock<Vec<Key>> = LazyLock::new(|| (0..3).map(|_| Key::generate()).collect());

/// Unpadded base64url.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    shared::b64::encode(bytes)
}

/// Signs `header` and `claims` (as given, byte for byte) with `key`.
pub fn sign_raw(
    key: &Key,
    header: &str,
    claims: &str,
    encoding: &'static dyn RsaEncoding,
) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let mut sig = vec![0u8; key.pair.public_modulus_len()];
    key.pair
        .sign(encoding, &SystemRandom::new(), input.as_bytes(), &mut sig)
        .expect("sign");
    format!("{input}.{}", b64(sig))
}

/// An HS256 token keyed with `secret` (the algorithm-confusion attack).
pub fn hs256(secret: &[u8], header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag))
}

/// `header.claims.sig` with `sig` taken as given (empty for `alg: none`).
pub fn unsigned(header: &str, claims: &str, sig: &str) -> String {
    format!("{}.{}.{sig}", b64(header), b64(claims))
}

/// The access-token header for `kid`: RS256, `typ: at+jwt`.
pub fn header(kid: &str) -> Value {
    json!({"alg": "RS256", "typ": "at+jwt", "kid": kid})
}

/// `value` with member `key` set to `v`, as JSON text.
pub fn with(mut value: Value, key: &str, v: Value) -> String {
    value[key] = v;
    value.to_string()
}

/// `value` without member `key`, as JSON text.
pub fn without(mut value: Value, key: &str) -> String {
    value.as_object_mut().map(|o| o.remove(key));
    value.to_string()
}

/// Replaces the last character of a segment by the next one in the
/// alphabet: same length, non-zero trailing bits.
pub fn non_canonical(segment: &str) -> String {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = segment.chars().last().unwrap_or('A');
    let idx = ALPHABET.find(last).unwrap_or(0);
    let next = ALPHABET.as_bytes()[(idx + 1) % 64] as char;
    format!("{}{next}", &segment[..segment.len() - 1])
}

/// `segment` with `=` padding (four more when it needs none).
pub fn pad(segment: &str) -> String {
    let mut s = segment.to_owned();
    while !s.len().is_multiple_of(4) {
        s.push('=');
    }
    if s.len() == segment.len() {
        s.push_str("====");
    }
    s
}

/// Forged and malformed tokens, each with its name, that a verifier
/// trusting `key` for the `iss` and `aud` of `claims` (a valid claim set:
/// `iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, …) must refuse (times are 2 minutes or more
/// out: refused under a leeway below that). Its audience must not be
/// `billing` or `ops`. `other` is a key it does not trust; `stray_url`
/// a URL it must never fetch (named by `jku` and `x5u`).
///
/// The empty token is not in the table (over HTTP it is a missing
/// credential, not a token).
pub fn hostile_tokens(
    key: &Key,
    other: &Key,
    claims: &Value,
    stray_url: &str,
) -> Vec<(&'static str, String)> {
    let kid = key.kid();
    let h = header(kid);
    let c = claims.clone();
    let cs = c.to_string();
    let iss = c["iss"].as_str().unwrap_or_default().to_owned();
    let now = shared::now_unix();
    let good = key.sign(&h, &c);
    let parts: Vec<&str> = good.split('.').collect();
    let (gh, gp, gs) = (parts[0], parts[1], parts[2]);
    let rs256 =
        |header: &str, claims: &str| sign_raw(key, header, claims, &signature::RSA_PKCS1_SHA256);
    let hs = with(h.clone(), "alg", json!("HS256"));
    let jwk_json = serde_json::to_string(&key.jwk).expect("jwk");
    let n_e = [key.n.clone(), key.e.clone()].concat();

    let mut cases: Vec<(&'static str, String)> = vec![
        // The algorithm: none, symmetric with public material, other RSA.
        (
            "alg none, empty signature",
            unsigned(&with(h.clone(), "alg", json!("none")), &cs, ""),
        ),
        (
            "alg None",
            unsigned(&with(h.clone(), "alg", json!("None")), &cs, ""),
        ),
        (
            "alg NONE with a signature",
            unsigned(&with(h.clone(), "alg", json!("NONE")), &cs, gs),
        ),
        ("no alg", rs256(&without(h.clone(), "alg"), &cs)),
        (
            "HS256 keyed with the public key DER",
            hs256(key.public_der(), &hs, &cs),
        ),
        (
            "HS256 keyed with the JWK JSON",
            hs256(jwk_json.as_bytes(), &hs, &cs),
        ),
        ("HS256 keyed with n||e", hs256(&n_e, &hs, &cs)),
        ("HS256 keyed with n", hs256(&key.n, &hs, &cs)),
        (
            "RS384 with the right key",
            sign_raw(
                key,
                &with(h.clone(), "alg", json!("RS384")),
                &cs,
                &signature::RSA_PKCS1_SHA384,
            ),
        ),
        (
            "PS256 with the right key",
            sign_raw(
                key,
                &with(h.clone(), "alg", json!("PS256")),
                &cs,
                &signature::RSA_PSS_SHA256,
            ),
        ),
        (
            "RS256 header, RS384 signature",
            sign_raw(key, &h.to_string(), &cs, &signature::RSA_PKCS1_SHA384),
        ),
        // Keys named or carried by the token itself.
        (
            "embedded jwk",
            rs256(
                &with(
                    h.clone(),
                    "jwk",
                    serde_json::to_value(&key.jwk).expect("jwk"),
                ),
                &cs,
            ),
        ),
        (
            "embedded jwk of another key",
            other.sign(
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": other.kid(), "jwk": other.jwk}),
                &c,
            ),
        ),
        (
            "jku to a listener",
            rs256(&with(h.clone(), "jku", json!(stray_url)), &cs),
        ),
        (
            "x5u to a listener",
            rs256(&with(h.clone(), "x5u", json!(stray_url)), &cs),
        ),
        ("x5c", rs256(&with(h.clone(), "x5c", json!(["MIIB"])), &cs)),
        ("crit", rs256(&with(h.clone(), "crit", json!(["exp"])), &cs)),
        // The kid and the header's shape.
        (
            "kid path traversal",
            rs256(
                &with(h.clone(), "kid", json!("../../../../etc/passwd")),
                &cs,
            ),
        ),
        (
            "kid is a number",
            rs256(&with(h.clone(), "kid", json!(7)), &cs),
        ),
        (
            "kid too long",
            rs256(&with(h.clone(), "kid", json!("k".repeat(300))), &cs),
        ),
        ("no kid", rs256(&without(h.clone(), "kid"), &cs)),
        ("header is an array", unsigned(r#"["RS256"]"#, &cs, gs)),
        ("typ JWT", rs256(&with(h.clone(), "typ", json!("JWT")), &cs)),
        ("no typ", rs256(&without(h.clone(), "typ"), &cs)),
        // Claims of the wrong type, missing, or out of range.
        (
            "exp is a string",
            rs256(
                &h.to_string(),
                &with(c.clone(), "exp", json!((now + 600).to_string())),
            ),
        ),
        (
            "aud is a number",
            rs256(&h.to_string(), &with(c.clone(), "aud", json!(5))),
        ),
        (
            "roles is a string",
            rs256(&h.to_string(), &with(c.clone(), "roles", json!("admin"))),
        ),
        ("claims are an array", rs256(&h.to_string(), "[1,2]")),
        (
            "expired",
            rs256(&h.to_string(), &with(c.clone(), "exp", json!(now - 120))),
        ),
        ("no exp", rs256(&h.to_string(), &without(c.clone(), "exp"))),
        (
            "not yet valid",
            rs256(&h.to_string(), &with(c.clone(), "nbf", json!(now + 120))),
        ),
        (
            "issued in the future",
            rs256(&h.to_string(), &with(c.clone(), "iat", json!(now + 600))),
        ),
        (
            "wrong iss",
            rs256(
                &h.to_string(),
                &with(c.clone(), "iss", json!("https://evil.example")),
            ),
        ),
        (
            "iss differs by a slash",
            rs256(
                &h.to_string(),
                &with(c.clone(), "iss", json!(format!("{iss}/"))),
            ),
        ),
        ("no iss", rs256(&h.to_string(), &without(c.clone(), "iss"))),
        (
            "wrong aud",
            rs256(&h.to_string(), &with(c.clone(), "aud", json!("billing"))),
        ),
        (
            "aud array without ours",
            rs256(
                &h.to_string(),
                &with(c.clone(), "aud", json!(["billing", "ops"])),
            ),
        ),
        ("no aud", rs256(&h.to_string(), &without(c.clone(), "aud"))),
        ("no sub", rs256(&h.to_string(), &without(c.clone(), "sub"))),
        // Duplicate members, plain and escaped.
        (
            "duplicate alg",
            rs256(
                &format!(r#"{{"alg":"RS256","alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#),
                &cs,
            ),
        ),
        (
            "duplicate alg, the second none",
            rs256(
                &format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","alg":"none"}}"#),
                &cs,
            ),
        ),
        (
            "duplicate kid",
            rs256(
                &format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","kid":"other"}}"#),
                &cs,
            ),
        ),
        (
            "escaped duplicate alg",
            rs256(
                &format!(r#"{{"alg":"RS256","\u0061lg":"none","typ":"at+jwt","kid":"{kid}"}}"#),
                &cs,
            ),
        ),
        (
            "duplicate exp",
            rs256(
                &h.to_string(),
                &cs.replacen('{', &format!(r#"{{"exp":{},"#, now + 99999), 1),
            ),
        ),
        (
            "duplicate aud",
            rs256(&h.to_string(), &cs.replacen('{', r#"{"aud":"billing","#, 1)),
        ),
        // Encoding: padding, non-canonical bits, the other alphabet.
        ("padded signature", format!("{gh}.{gp}.{gs}==")),
        ("padded header", format!("{}.{gp}.{gs}", pad(gh))),
        ("padded payload", format!("{gh}.{gp}=.{gs}")),
        (
            "non-canonical signature",
            format!("{gh}.{gp}.{}", non_canonical(gs)),
        ),
        // Structure and size.
        ("two segments", format!("{gh}.{gp}")),
        ("four segments", format!("{good}.{gs}")),
        ("1 MB payload", format!("{gh}.{}.{gs}", "A".repeat(1 << 20))),
        ("1 MB of A", "A".repeat(1 << 20)),
        // Signatures that do not match.
        (
            "tampered payload",
            format!("{gh}.{}.{gs}", b64(with(c.clone(), "sub", json!("admin")))),
        ),
        (
            "signature of another token",
            format!("{gh}.{}.{gs}", b64(cs.clone() + " ")),
        ),
        ("signed by another key", other.sign(&h, &c)),
    ];
    // Only a change when the signature uses `-` or `_` (almost always).
    let standard = gs.replace('-', "+").replace('_', "/");
    if standard != gs {
        cases.push(("standard alphabet", format!("{gh}.{gp}.{standard}")));
    }
    cases
}

/// A typical access-token claim set issued at `now` (for signing
/// benchmarks and load examples).
pub fn sample_claims(now: i64) -> AccessClaims {
    AccessClaims {
        iss: "https://issuer.example.com".into(),
        sub: "alice".into(),
        aud: Audience::from_list(vec!["orders".into()]),
        exp: now + 600,
        iat: now,
        nbf: now,
        jti: "3q2-7wAAAAAAAAAAAAAAAA".into(),
        client_id: "web".into(),
        scope: "items:read items:write".into(),
        roles: Some(vec!["admin".into()]),
    }
}
