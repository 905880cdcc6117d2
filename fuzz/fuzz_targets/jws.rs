//! The compact JWS parser and the verification policy of jwks-client, through
//! its public entry points: `verify_with_key` (split, header rules, claim
//! parsing, algorithm allow-list and `typ`, signature, claim policy) and a
//! `Verifier` over `LocalKeys` (the same plus the per-thread header memo
//! and the `kid` lookup).
//!
//! Two kinds of input:
//! - a compact token as text, verified as it is;
//! - `{header JSON}\npayload JSON`: the harness encodes both segments and,
//!   when every check before the signature passes, signs them with its own
//!   key using the algorithm the header names, so the fuzzer reaches the
//!   claim policy behind a valid signature.
//!
//! Properties beyond "no panic":
//! - a token given as text never verifies (the key is generated at start-up:
//!   no input can carry a valid signature by it, so an accepted one is a
//!   forgery);
//! - accepted claims satisfy the policy (issuer, audience, times, required
//!   claims);
//! - the two entry points agree: the `Verifier` accepts exactly what
//!   `verify_with_key` accepts, with the same claims, except tokens that do
//!   not name the key's `kid`.

#![no_main]

use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaEncoding};
use jwks_client::keys::VerifyingKey;
use jwks_client::{Algorithm, IssuerConfig, LocalKeys, RequiredClaim, Verifier, VerifyError};
use libfuzzer_sys::fuzz_target;
use shared::jwk::Jwks;
use testkit::forge;

const ISSUER: &str = "https://issuer.fuzz.test";
const AUDIENCE: &str = "fuzz-api";
const KID: &str = "fuzz-key";
/// The policy's leeway, in seconds.
const LEEWAY: i64 = 30;

struct Fixture {
    key: forge::Key,
    verifying: VerifyingKey,
    policy: IssuerConfig,
    verifier: Verifier,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let key = forge::Key::generate();
    // No `alg` in the JWK: the key serves every algorithm of the policy.
    let mut jwk = key.jwk.clone();
    jwk.kid = Some(KID.to_owned());
    jwk.alg = None;
    let algorithms = [Algorithm::RS256, Algorithm::PS256];
    let verifying = VerifyingKey::from_jwk(&jwk, &algorithms).expect("the test key is usable");
    let policy = IssuerConfig::new(ISSUER)
        .audiences([AUDIENCE])
        .algorithms(&algorithms)
        .leeway(std::time::Duration::from_secs(LEEWAY as u64))
        .required_claims(RequiredClaim::RFC_9068);
    let keys = LocalKeys::new();
    assert_eq!(keys.replace(&Jwks::from_keys([&jwk])), 1);
    let verifier = Verifier::builder()
        .issuer(policy.clone().local_keys(keys))
        .build()
        .expect("valid verifier");
    Fixture {
        key,
        verifying,
        policy,
        verifier,
    }
});

/// Runs a future that cannot wait (local keys, no result cache) to its end.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a verification with local keys waited"),
    }
}

/// The signing encoding of the `alg` the header JSON names (RS256 if none).
fn encoding(header: &[u8]) -> &'static dyn RsaEncoding {
    let alg = serde_json::from_slice::<serde_json::Value>(header)
        .ok()
        .and_then(|h| h.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
    match alg.as_deref() {
        Some("RS384") => &signature::RSA_PKCS1_SHA384,
        Some("RS512") => &signature::RSA_PKCS1_SHA512,
        Some("PS256") => &signature::RSA_PSS_SHA256,
        Some("PS384") => &signature::RSA_PSS_SHA384,
        Some("PS512") => &signature::RSA_PSS_SHA512,
        _ => &signature::RSA_PKCS1_SHA256,
    }
}

/// `header.payload.signature` from JSON texts, signed only when a dummy
/// signature is the one thing wrong with it.
fn build(fx: &Fixture, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", forge::b64(header), forge::b64(payload));
    let unsigned = format!("{input}.AAAA");
    if verify_with_key(fx, &unsigned) != Err(VerifyError::BadSignature) {
        return unsigned;
    }
    let mut sig = vec![0u8; fx.key.pair.public_modulus_len()];
    fx.key
        .pair
        .sign(
            encoding(header),
            &SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("signing");
    format!("{input}.{}", forge::b64(sig))
}

fn verify_with_key(fx: &Fixture, token: &str) -> Result<jwks_client::Claims, VerifyError> {
    jwks_client::verify_with_key(token, &fx.verifying, &fx.policy)
}

fuzz_target!(|data: &[u8]| {
    let fx = &*FIXTURE;
    let (token, signed_here) = match data.split_first() {
        Some((b'{', _)) => {
            let (header, payload) = match data.iter().position(|b| *b == b'\n') {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (data, &b"{}"[..]),
            };
            (build(fx, header, payload), true)
        }
        _ => match std::str::from_utf8(data) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => return,
        },
    };

    let direct = verify_with_key(fx, &token);
    let via_verifier = ready(fx.verifier.verify(&token));

    if let Ok(claims) = &direct {
        assert!(signed_here, "a token given as text verified: {token}");
        let now = shared::now_unix();
        assert_eq!(claims.iss, ISSUER);
        assert!(claims.aud.contains(AUDIENCE));
        assert!(claims.exp.saturating_add(LEEWAY) > now - 2, "expired");
        assert!(
            claims
                .nbf
                .is_none_or(|nbf| nbf <= now.saturating_add(LEEWAY))
        );
        let iat = claims.iat.expect("iat is required");
        assert!(iat <= now.saturating_add(LEEWAY));
        assert!(claims.jti.is_some() && claims.client_id.is_some());
    }
    match (&direct, &via_verifier) {
        (Ok(a), Ok(b)) => assert_eq!(a, &**b, "same claims both ways"),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => assert!(
            matches!(
                e,
                VerifyError::MissingKid | VerifyError::UnknownKid | VerifyError::Expired
            ),
            "verify_with_key accepted what the Verifier refused with {e:?}"
        ),
        (Err(e), Ok(_)) => panic!("the Verifier accepted what verify_with_key refused with {e:?}"),
    }
});
