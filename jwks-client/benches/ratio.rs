//! Interleaved A/B of the full verification path against raw aws-lc-rs RSA
//! verification of the same signing input, best of 150 rounds of 200 each: a ratio
//! that holds up on a busy machine where criterion's sequential groups do
//! not.
//!
//! Run: `cargo bench -p jwks-client --bench ratio`. With `ONLY_OURS=1` it
//! just runs 100,000 verifications (for `perf record`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use jwks_client::{IssuerConfig, Verifier};

#[allow(dead_code)]
#[path = "../tests/client/support.rs"]
mod support;

use support::*;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = &KEYS[0];
    let (server, token) = rt.block_on(async {
        let server = JwksServer::start(jwks(&[key])).await;
        let token = token(key, &issuer_of(&server));
        (server, token)
    });
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(issuer_of(&server))
                .jwks_url(server.jwks_url())
                .audiences([AUD]),
        )
        .http(fast_http())
        .build()
        .expect("build");
    rt.block_on(verifier.prefetch()).expect("prefetch");
    if std::env::var("ONLY_OURS").is_ok() {
        rt.block_on(async {
            for _ in 0..100_000 {
                black_box(verifier.verify(&token).await.expect("valid"));
            }
        });
        return;
    }
    let (input, sig) = token.rsplit_once('.').expect("jws");
    let sig = shared::b64::decode(sig).expect("b64");
    let parsed = RsaPublicKeyComponents {
        n: key.n.as_slice(),
        e: key.e.as_slice(),
    }
    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
    .expect("key");
    let n = 200;
    let (mut ours, mut raw) = (Duration::MAX, Duration::MAX);
    for _ in 0..150 {
        let t = Instant::now();
        rt.block_on(async {
            for _ in 0..n {
                black_box(verifier.verify(black_box(&token)).await.expect("valid"));
            }
        });
        ours = ours.min(t.elapsed());
        let t = Instant::now();
        for _ in 0..n {
            parsed
                .verify_sig(black_box(input.as_bytes()), black_box(&sig))
                .expect("valid");
        }
        raw = raw.min(t.elapsed());
    }
    let ours = f64::from(n) / ours.as_secs_f64();
    let raw = f64::from(n) / raw.as_secs_f64();
    println!(
        "jwks-client verify: {ours:.0}/s; raw aws-lc-rs RSA verify: {raw:.0}/s; ratio {:.3}; overhead {:.2} us/token",
        ours / raw,
        1e6 / ours - 1e6 / raw
    );
    drop(server);
}
