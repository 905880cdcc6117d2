//! The verification hot path with a warm key cache, one core.
//!
//! Run: `cargo bench -p jwks-client --bench verify`, and compare with
//! `openssl speed -seconds 5 rsa2048` (verify/s) in the same sitting.
//!
//! - `jwks_client/result_cache_off`: the full pipeline (parse, key lookup,
//!   RSA-2048 verify, claim checks).
//! - `jwks_client/result_cache_on`: the same token again, answered from the
//!   result cache.
//! - `baseline/aws_lc_rs_verify`: only the RSA verification of the same
//!   signing input with a pre-parsed key: the ceiling for the first line.
//! - `baseline/jsonwebtoken_decode`: jsonwebtoken 11 (aws-lc backend) for
//!   comparison.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jwks_client::{IssuerConfig, Verifier};

#[allow(dead_code)]
#[path = "../tests/client/support.rs"]
mod support;

use support::*;

fn bench(c: &mut Criterion) {
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
    let build = |result_cache: u64| {
        Verifier::builder()
            .issuer(
                IssuerConfig::new(issuer_of(&server))
                    .jwks_url(server.jwks_url())
                    .audiences([AUD]),
            )
            .http(fast_http())
            .result_cache(result_cache)
            .build()
            .expect("build")
    };
    let uncached = build(0);
    let cached = build(10_000);
    rt.block_on(async {
        uncached.prefetch().await.expect("prefetch");
        cached.prefetch().await.expect("prefetch");
        cached.verify(&token).await.expect("verify");
    });

    let mut group = c.benchmark_group("jwks_client");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(30);
    for (name, verifier) in [
        ("result_cache_off", &uncached),
        ("result_cache_on", &cached),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(verifier.verify(black_box(&token)).await.expect("valid"));
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();

    let (input, sig) = token.rsplit_once('.').expect("jws");
    let sig = shared::b64::decode(sig).expect("b64");
    let parsed = RsaPublicKeyComponents {
        n: key.n.as_slice(),
        e: key.e.as_slice(),
    }
    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
    .expect("key");
    let jwt_key = jsonwebtoken::DecodingKey::from_rsa_raw_components(&key.n, &key.e);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[AUD]);
    validation.set_issuer(&[issuer_of(&server)]);

    let mut group = c.benchmark_group("baseline");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    group.sample_size(30);
    group.bench_function("aws_lc_rs_verify", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(input.as_bytes()), black_box(&sig))
                .expect("valid")
        })
    });
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &jwt_key, &validation)
                .expect("valid")
        })
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, bench);
criterion_main!(benches);
