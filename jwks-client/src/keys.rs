//! Public keys: each JWKS member is judged on its own, usable RSA keys are
//! parsed once into aws-lc-rs verifiers, everything else is skipped and
//! counted.
//!
//! Key rules (a key failing any is skipped, never the whole set):
//! - `kty` `RSA`, with `n` and `e` in canonical base64url; no private members;
//! - modulus of 2048 to 8192 bits;
//! - exponent odd and `65537 <= e < 2^32` (NIST SP 800-56B's lower bound;
//!   small exponents such as 3 only ever help forgery attacks on lax
//!   verifiers, and aws-lc caps the exponent size anyway);
//! - `use`, when present, is `sig`; `key_ops`, when present, has `verify`;
//! - `alg`, when present, is in the issuer's allow-list;
//! - in a set: a `kid`, unique within the set (later duplicates are skipped).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use serde::Deserialize as _;
use shared::jwk::{Jwk, Jwks};

use crate::algorithm::Algorithm;
use crate::error::VerifyError;

/// Longest `kid` accepted, in bytes (in a token header and in a set).
pub const MAX_KID_BYTES: usize = 256;

/// Why a JWKS member was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRejection {
    #[error("malformed key")]
    Malformed,
    #[error("not an RSA key")]
    NotRsa,
    #[error("modulus shorter than 2048 bits")]
    TooShort,
    #[error("modulus longer than 8192 bits")]
    TooLong,
    #[error("unsafe public exponent")]
    UnsafeExponent,
    #[error("key is not for signature verification")]
    NotForSignatures,
    #[error("key algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("key has no kid")]
    MissingKid,
    #[error("kid is used by an earlier key in the set")]
    DuplicateKid,
    #[error("private key material published in a JWKS")]
    PrivateMaterial,
}

/// An RSA public key ready to verify, one parsed verifier per algorithm the
/// key may be used with.
pub struct VerifyingKey {
    kid: Option<Box<str>>,
    alg: Option<Algorithm>,
    bits: usize,
    fingerprint: [u8; 32],
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Checks a JWK against the key rules and parses it for every algorithm
    /// in `allowed` that the key permits. A missing `kid` is fine here (it is
    /// required only inside a set).
    pub fn from_jwk(jwk: &Jwk, allowed: &[Algorithm]) -> Result<Self, KeyRejection> {
        if jwk.kty != "RSA" {
            return Err(KeyRejection::NotRsa);
        }
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyRejection::NotForSignatures);
        }
        if jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
        {
            return Err(KeyRejection::NotForSignatures);
        }
        let alg = match jwk.alg.as_deref() {
            None => None,
            Some(name) => Some(
                Algorithm::from_name(name)
                    .filter(|a| allowed.contains(a))
                    .ok_or(KeyRejection::AlgorithmNotAllowed)?,
            ),
        };
        let n = decode_uint(jwk.n.as_deref())?;
        let e = decode_uint(jwk.e.as_deref())?;
        let bits = bit_len(&n);
        if bits < 2048 {
            return Err(KeyRejection::TooShort);
        }
        if bits > 8192 {
            return Err(KeyRejection::TooLong);
        }
        if n.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyRejection::Malformed);
        }
        if e.len() > 4 {
            return Err(KeyRejection::UnsafeExponent);
        }
        let exponent = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if exponent < 65537 || exponent & 1 == 0 {
            return Err(KeyRejection::UnsafeExponent);
        }
        let components = RsaPublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        };
        let mut verifiers = Vec::with_capacity(1);
        for candidate in allowed {
            if alg.is_some_and(|a| a != *candidate) {
                continue;
            }
            if verifiers.iter().any(|(a, _)| a == candidate) {
                continue;
            }
            let parsed = components
                .to_parsed_public_key(candidate.params())
                .map_err(|_| KeyRejection::Malformed)?;
            verifiers.push((*candidate, parsed));
        }
        if verifiers.is_empty() {
            return Err(KeyRejection::AlgorithmNotAllowed);
        }
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&(n.len() as u32).to_be_bytes());
        ctx.update(&n);
        ctx.update(&e);
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(ctx.finish().as_ref());
        Ok(VerifyingKey {
            kid: jwk.kid.as_deref().map(Box::from),
            alg,
            bits,
            fingerprint,
            verifiers,
        })
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `alg` the JWK pinned, if any.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// SHA-256 over the key's public numbers: tells a replaced key from a
    /// kept one even when a `kid` is reused.
    pub(crate) fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// Verifies `signature` over `message` with `alg`, which must be one the
    /// key was parsed for (the policy's allow-list intersected with the
    /// key's own `alg`).
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        let (_, parsed) = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .ok_or(VerifyError::AlgorithmNotAllowed)?;
        parsed
            .verify_sig(message, signature)
            .map_err(|_| VerifyError::BadSignature)
    }
}

/// Big-endian unsigned integer from base64url; leading zero octets (which
/// some libraries emit) are tolerated and stripped.
fn decode_uint(text: Option<&str>) -> Result<Vec<u8>, KeyRejection> {
    let bytes = shared::b64::decode(text.ok_or(KeyRejection::Malformed)?)
        .map_err(|_| KeyRejection::Malformed)?;
    let first = bytes.iter().position(|b| *b != 0);
    match first {
        None => Err(KeyRejection::Malformed),
        Some(0) => Ok(bytes),
        Some(i) => Ok(bytes[i..].to_vec()),
    }
}

fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(top) => (be.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// Usable keys of one document, by `kid`.
pub(crate) type KeyMap = HashMap<Box<str>, Arc<VerifyingKey>>;

/// Members that only a private JWK has (RFC 7518 section 6.3.2).
const PRIVATE_MEMBERS: [&str; 6] = ["d", "p", "q", "dp", "dq", "qi"];

/// Parses a JWKS document; only a document that is not a JSON object with a
/// `keys` array fails. Returns the usable keys and how many were skipped.
pub(crate) fn parse_jwks(
    body: &[u8],
    allowed: &[Algorithm],
    issuer: &str,
) -> Result<(KeyMap, u64), serde_json::Error> {
    let doc: Jwks = serde_json::from_slice(body)?;
    Ok(key_map(&doc, allowed, issuer))
}

/// The usable keys of a set, judged member by member as the module rules
/// say, and how many members were skipped. `issuer` only labels log lines.
pub(crate) fn key_map(doc: &Jwks, allowed: &[Algorithm], issuer: &str) -> (KeyMap, u64) {
    let mut keys = KeyMap::with_capacity(doc.keys.len());
    let mut skipped = 0;
    for member in &doc.keys {
        match key_from_member(member, allowed, &keys) {
            Ok(key) => {
                if let Some(kid) = key.kid.clone() {
                    keys.insert(kid, Arc::new(key));
                }
            }
            Err(reason) => {
                skipped += 1;
                let kid = member.get("kid").and_then(|k| k.as_str()).unwrap_or("");
                tracing::info!(issuer, kid, %reason, "skipping JWKS member");
            }
        }
    }
    (keys, skipped)
}

fn key_from_member(
    member: &serde_json::Value,
    allowed: &[Algorithm],
    seen: &KeyMap,
) -> Result<VerifyingKey, KeyRejection> {
    let object = member.as_object().ok_or(KeyRejection::Malformed)?;
    if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
        return Err(KeyRejection::PrivateMaterial);
    }
    let jwk: Jwk = Jwk::deserialize(member).map_err(|_| KeyRejection::Malformed)?;
    let kid = jwk.kid.as_deref().ok_or(KeyRejection::MissingKid)?;
    if kid.is_empty() || kid.len() > MAX_KID_BYTES {
        return Err(KeyRejection::Malformed);
    }
    if seen.contains_key(kid) {
        return Err(KeyRejection::DuplicateKid);
    }
    VerifyingKey::from_jwk(&jwk, allowed)
}
