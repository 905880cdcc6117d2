//! JSON Web Keys (RFC 7517) as published by the issuer, and the RFC 7638
//! thumbprint that serves as their `kid`.

use aws_lc_rs::digest;
use aws_lc_rs::rsa::PublicKey;
use serde::{Deserialize, Serialize};

/// One public key in a JWKS document.
///
/// Every field but `kty` is optional on the wire so that a client can parse a
/// set containing keys it does not understand and skip just those.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// RSA modulus, base64url big-endian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url big-endian.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl Jwk {
    /// An RS256 signature-verification key from its big-endian modulus and
    /// exponent; the `kid` is the RFC 7638 thumbprint.
    pub fn rsa_signing(modulus: &[u8], exponent: &[u8]) -> Self {
        let n = crate::b64::encode(strip_leading_zeros(modulus));
        let e = crate::b64::encode(strip_leading_zeros(exponent));
        Jwk {
            kty: "RSA".into(),
            kid: Some(rsa_thumbprint(&n, &e)),
            use_: Some("sig".into()),
            alg: Some("RS256".into()),
            key_ops: None,
            n: Some(n),
            e: Some(e),
        }
    }

    /// [`Jwk::rsa_signing`] for an aws-lc-rs RSA public key, such as
    /// `key_pair.public_key()` of an `RsaKeyPair` (with
    /// `aws_lc_rs::signature::KeyPair` in scope): its modulus and exponent
    /// are read from the key, no DER is parsed.
    pub fn rsa_signing_key(key: &PublicKey) -> Self {
        Jwk::rsa_signing(
            key.modulus().big_endian_without_leading_zero(),
            key.exponent().big_endian_without_leading_zero(),
        )
    }
}

/// A JWK Set document (RFC 7517 section 5).
///
/// `keys` is kept as raw JSON values so that one malformed member cannot make
/// the whole document unreadable; clients convert each member on its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<serde_json::Value>,
}

impl Jwks {
    /// A set of well-formed keys.
    pub fn from_keys<'a>(keys: impl IntoIterator<Item = &'a Jwk>) -> Self {
        Jwks {
            keys: keys
                .into_iter()
                .filter_map(|k| serde_json::to_value(k).ok())
                .collect(),
        }
    }
}

/// RFC 7638 thumbprint of an RSA public key whose members are already
/// base64url-encoded: SHA-256 over `{"e":…,"kty":"RSA","n":…}`, base64url.
pub fn rsa_thumbprint(n_b64: &str, e_b64: &str) -> String {
    // The members are base64url text, which never needs JSON escaping.
    let canonical = format!(r#"{{"e":"{e_b64}","kty":"RSA","n":"{n_b64}"}}"#);
    crate::b64::encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of RFC 7638 section 3.1.
    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            rsa_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn signing_jwk_of_an_aws_lc_key_pair() {
        use aws_lc_rs::signature::KeyPair as _;
        let Ok(pair) = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048) else {
            panic!("key generation");
        };
        let jwk = Jwk::rsa_signing_key(pair.public_key());
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        let n = jwk
            .n
            .as_deref()
            .and_then(|n| crate::b64::decode(n).ok())
            .unwrap_or_default();
        assert_eq!(n.len(), 256);
        assert!(n[0] & 0x80 != 0, "no leading zero, top bit set");
        let components = aws_lc_rs::signature::RsaPublicKeyComponents {
            n: n.as_slice(),
            e: [1u8, 0, 1].as_slice(),
        };
        let mut sig = vec![0; pair.public_modulus_len()];
        let signed = pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            b"msg",
            &mut sig,
        );
        assert!(signed.is_ok());
        assert!(
            components
                .verify(
                    &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                    b"msg",
                    &sig
                )
                .is_ok(),
            "the JWK's numbers are the key pair's"
        );
        assert_eq!(
            jwk.kid.as_deref(),
            jwk.n
                .as_deref()
                .map(|n| rsa_thumbprint(n, "AQAB"))
                .as_deref()
        );
    }

    #[test]
    fn signing_jwk_has_only_public_members() {
        let jwk = Jwk::rsa_signing(&[0, 0xC0, 0xFF, 0xEE], &[1, 0, 1]);
        let json = serde_json::to_value(&jwk).unwrap_or_default();
        assert_eq!(json["n"], "wP_u");
        assert_eq!(json["e"], "AQAB");
        assert_eq!(json["use"], "sig");
        assert_eq!(json["alg"], "RS256");
        assert!(json.get("d").is_none() && json.get("key_ops").is_none());
    }
}
