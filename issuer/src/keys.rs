//! Signing keys: generation, encryption at rest, the in-memory key set and
//! access-token signing.
//!
//! Everything cryptographic goes through aws-lc-rs: RSA key generation and
//! PKCS#8 encoding, constant-time RS256 signing and AES-256-GCM for private
//! keys at rest. The `rsa` crate is not used (RUSTSEC-2023-0071: its
//! private-key operations are not constant-time), and aws-lc-rs covers
//! generation and encoding as well.
//!
//! A [`SigningKey`] keeps the parsed key pair and its precomputed JWS header,
//! so signing a token parses nothing.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use jwks_client::LocalKeys;
use serde::Serialize;
use shared::claims::{ACCESS_TOKEN_TYP, AccessClaims};
use shared::jwk::{Jwk, Jwks};

use crate::config::KeyBits;

/// Errors of key handling. None of them carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed")]
    Generate,
    #[error("encoding the private key failed")]
    Encode,
    #[error("encrypting the private key failed")]
    Encrypt,
    #[error(
        "cannot decrypt the private key of {kid}: wrong key-encryption key (ISSUER_KEK) or damaged data"
    )]
    Decrypt { kid: String },
    #[error("stored private key of {kid} is not a usable RSA key")]
    Parse { kid: String },
    #[error("stored key {kid} does not match its public key")]
    Mismatch { kid: String },
    #[error("signing failed")]
    Sign,
    #[error("key-encryption key file {path}: {source}")]
    KekFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("key-encryption key file {path} does not hold 32 bytes of base64url")]
    KekFormat { path: String },
}

/// The key-encryption key: AES-256-GCM, random 96-bit nonce per seal,
/// AAD = the key id. Sealed form: `nonce || ciphertext || tag`.
pub struct Kek {
    key: LessSafeKey,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek([redacted])")
    }
}

impl Kek {
    pub fn new(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::Encrypt)?;
        Ok(Kek {
            key: LessSafeKey::new(key),
        })
    }

    /// A fresh random KEK.
    pub fn random_bytes() -> Result<[u8; 32], KeyError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| KeyError::Generate)?;
        Ok(bytes)
    }

    /// Reads a base64url KEK from `path`, or creates one there (mode 0600)
    /// when `create` and the file does not exist. Returns whether it was
    /// created.
    pub fn load_or_create_file(path: &Path, create: bool) -> Result<(Self, bool), KeyError> {
        let shown = path.display().to_string();
        let io_err = |source| KeyError::KekFile {
            path: shown.clone(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = crate::config::parse_kek(&text).ok_or_else(|| KeyError::KekFormat {
                    path: shown.clone(),
                })?;
                Ok((Kek::new(&bytes)?, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let bytes = Kek::random_bytes()?;
                write_private_file(path, shared::b64::encode(bytes).as_bytes()).map_err(io_err)?;
                Ok((Kek::new(&bytes)?, true))
            }
            Err(e) => Err(io_err(e)),
        }
    }

    /// Encrypts `plaintext` for the key `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KeyError::Encrypt)?;
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| KeyError::Encrypt)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        Ok(sealed)
    }

    /// Decrypts what [`Kek::seal`] produced for `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        let err = || KeyError::Decrypt {
            kid: kid.to_owned(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(err());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| err())?;
        let mut in_out = ciphertext.to_vec();
        let plain_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| err())?
            .len();
        in_out.truncate(plain_len);
        Ok(in_out)
    }
}

#[cfg(unix)]
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

// The stored state of a key; defined with the key table.
pub use crate::store::KeyState;

/// An RSA key pair ready to sign access tokens.
///
/// Holds the parsed key, its public JWK and the base64url JWS header
/// `{"alg":"RS256","typ":"at+jwt","kid":…}`, all computed once.
pub struct SigningKey {
    kid: String,
    key_pair: RsaKeyPair,
    jwk: Jwk,
    header_b64: String,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

impl SigningKey {
    /// Generates a fresh key pair.
    pub fn generate(bits: KeyBits) -> Result<Self, KeyError> {
        let size = match bits {
            KeyBits::Rsa2048 => KeySize::Rsa2048,
            KeyBits::Rsa3072 => KeySize::Rsa3072,
            KeyBits::Rsa4096 => KeySize::Rsa4096,
        };
        let key_pair = RsaKeyPair::generate(size).map_err(|_| KeyError::Generate)?;
        Self::from_key_pair(key_pair).ok_or(KeyError::Generate)
    }

    /// Parses a PKCS#8 DER private key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let unknown = || KeyError::Parse {
            kid: "(unknown)".into(),
        };
        let key_pair = RsaKeyPair::from_pkcs8(der).map_err(|_| unknown())?;
        Self::from_key_pair(key_pair).ok_or_else(unknown)
    }

    fn from_key_pair(key_pair: RsaKeyPair) -> Option<Self> {
        let jwk = Jwk::rsa_signing_key(key_pair.public_key());
        let kid = jwk.kid.clone()?;
        let header = serde_json::to_vec(&Header {
            alg: "RS256",
            typ: ACCESS_TOKEN_TYP,
            kid: &kid,
        })
        .ok()?;
        Some(SigningKey {
            header_b64: shared::b64::encode(header),
            kid,
            key_pair,
            jwk,
            rng: SystemRandom::new(),
        })
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (`kty n e kid use alg`).
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn bits(&self) -> usize {
        self.key_pair.public_modulus_len() * 8
    }

    /// The private key as PKCS#8 DER (only to encrypt it for storage).
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, KeyError> {
        let der: Pkcs8V1Der<'static> = self.key_pair.as_der().map_err(|_| KeyError::Encode)?;
        Ok(der.as_ref().to_vec())
    }

    /// Signs `claims` as a compact JWS (RS256, `typ` `at+jwt`).
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;
        self.sign_payload(&payload)
    }

    /// Signs an already-serialised JSON claim set.
    pub fn sign_payload(&self, payload: &[u8]) -> Result<String, KeyError> {
        let sig_len = self.key_pair.public_modulus_len();
        let mut token = String::with_capacity(
            self.header_b64.len() + 2 + (payload.len() + sig_len).div_ceil(3) * 4 + 8,
        );
        token.push_str(&self.header_b64);
        token.push('.');
        shared::b64::encode_into(payload, &mut token);
        // Large enough for a 4096-bit modulus; no heap allocation.
        let mut signature = [0u8; 512];
        let signature = signature.get_mut(..sig_len).ok_or(KeyError::Sign)?;
        self.key_pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, token.as_bytes(), signature)
            .map_err(|_| KeyError::Sign)?;
        token.push('.');
        shared::b64::encode_into(&*signature, &mut token);
        Ok(token)
    }
}

/// A key with its lifecycle metadata.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub key: Arc<SigningKey>,
    pub state: KeyState,
    pub activate_at: i64,
    pub retire_at: Option<i64>,
}

/// The keys the issuer currently holds, and the JWKS document for them,
/// computed once whenever the set changes.
#[derive(Debug)]
pub struct KeySet {
    active: Arc<SigningKey>,
    entries: Vec<KeyEntry>,
    /// The published keys, as served and as this process verifies with.
    jwks: Jwks,
    jwks_body: actix_web::web::Bytes,
    etag: String,
    /// The next scheduled transition (a pending activation or a retirement).
    next_transition: Option<i64>,
}

impl KeySet {
    /// Builds the set; exactly one entry must be active.
    pub fn new(entries: Vec<KeyEntry>) -> Option<Self> {
        let mut active = entries.iter().filter(|e| e.state == KeyState::Active);
        let the_active = active.next()?.key.clone();
        if active.next().is_some() {
            return None;
        }
        let jwks = Jwks::from_keys(
            entries
                .iter()
                .filter(|e| e.state.published())
                .map(|e| e.key.jwk()),
        );
        let body = serde_json::to_vec(&jwks).ok()?;
        let etag = format!(
            "\"{}\"",
            shared::b64::encode(digest::digest(&digest::SHA256, &body))
        );
        let next_transition = entries
            .iter()
            .filter_map(|e| match e.state {
                KeyState::Pending => Some(e.activate_at),
                KeyState::Retiring => e.retire_at,
                _ => None,
            })
            .min();
        Some(KeySet {
            active: the_active,
            entries,
            jwks,
            jwks_body: body.into(),
            etag,
            next_transition,
        })
    }

    /// `(kid, state, activate_at, retire_at)` of every published key, by
    /// kid: the shape of [`crate::store::Store::key_states`].
    pub fn states(&self) -> Vec<(String, KeyState, i64, Option<i64>)> {
        let mut states: Vec<_> = self
            .entries
            .iter()
            .filter(|e| e.state.published())
            .map(|e| (e.key.kid().to_owned(), e.state, e.activate_at, e.retire_at))
            .collect();
        states.sort_unstable();
        states
    }

    /// The key that signs everything now.
    pub fn active(&self) -> &Arc<SigningKey> {
        &self.active
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// The serialised JWKS (public members of pending, active and retiring keys).
    pub fn jwks_body(&self) -> &actix_web::web::Bytes {
        &self.jwks_body
    }

    /// A strong ETag: the quoted base64url SHA-256 of the body.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// When the next scheduled transition is due (Unix seconds).
    pub fn next_transition(&self) -> Option<i64> {
        self.next_transition
    }

    /// `max-age` for the JWKS at `now`: the configured value, shrunk to the
    /// time left before the next key transition.
    pub fn max_age_at(&self, configured: Duration, now: i64) -> u64 {
        let configured = configured.as_secs();
        match self.next_transition {
            Some(at) if at > now => configured.min(u64::try_from(at - now).unwrap_or(0)),
            Some(_) => 0,
            None => configured,
        }
    }
}

/// The shared, swappable key set, and the same keys (its JWKS) for this
/// process's own verifiers (introspection, `/admin`).
#[derive(Debug)]
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    local: LocalKeys,
}

impl KeyRing {
    pub fn new(set: KeySet) -> Self {
        let local = LocalKeys::new();
        publish(&local, &set);
        KeyRing {
            current: RwLock::new(Arc::new(set)),
            local,
        }
    }

    /// The current set (a cheap clone of an `Arc`).
    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the set whole. The verifiers learn the new keys first, so
    /// a token signed by a key the instant it becomes active verifies.
    pub fn replace(&self, set: KeySet) {
        publish(&self.local, &set);
        let set = Arc::new(set);
        match self.current.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
    }

    /// The published keys (pending, active, retiring), for
    /// `IssuerConfig::local_keys`.
    pub fn local_keys(&self) -> &LocalKeys {
        &self.local
    }
}

/// Installs the set's published keys as the verifiers' keys: each RSA key
/// is parsed here, once per change.
fn publish(local: &LocalKeys, set: &KeySet) {
    local.replace(&set.jwks);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn seal_and_open_bind_the_kid() {
        let kek = Kek::new(&[7u8; 32]).unwrap();
        let sealed = kek.seal("kid-1", b"secret der").unwrap();
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"secret der");
        assert!(kek.open("kid-2", &sealed).is_err(), "AAD is the kid");
        let other = Kek::new(&[8u8; 32]).unwrap();
        assert!(other.open("kid-1", &sealed).is_err(), "wrong KEK");
        assert!(kek.open("kid-1", &sealed[..5]).is_err());
    }

    #[test]
    fn generated_key_round_trips_through_pkcs8() {
        let key = SigningKey::generate(KeyBits::Rsa2048).unwrap();
        assert_eq!(key.bits(), 2048);
        let again = SigningKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert_eq!(key.jwk().e.as_deref(), Some("AQAB"));
        let n = shared::b64::decode(key.jwk().n.as_deref().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
    }
}
