//! Signing a full access token with the in-memory key, through the issuer's
//! own signing API (`SigningKey::sign`). Compare with
//! `openssl speed -seconds 5 rsa2048` (sign/s).
//!
//! Run: `cargo bench -p issuer --bench sign`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use testkit::forge::sample_claims;
use testkit::internals::{KeyBits, SigningKey};

fn sign(c: &mut Criterion) {
    let key = SigningKey::generate(KeyBits::Rsa2048).expect("key generation");
    let claims = sample_claims(shared::now_unix());
    let mut group = c.benchmark_group("access_token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_rs256_2048", |b| {
        b.iter(|| key.sign(std::hint::black_box(&claims)).expect("sign"))
    });
    group.finish();

    // For comparison: the bare RSA-2048 PKCS#1 v1.5 SHA-256 signature over a
    // token-sized message, straight through aws-lc-rs.
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    let raw = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("key generation");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let message = key.sign(&claims).expect("sign").into_bytes();
    let mut signature = vec![0u8; raw.public_modulus_len()];
    let mut group = c.benchmark_group("raw");
    group.throughput(Throughput::Elements(1));
    group.bench_function("aws_lc_rsa2048_pkcs1_sha256", |b| {
        b.iter(|| {
            raw.sign(
                &RSA_PKCS1_SHA256,
                &rng,
                std::hint::black_box(&message),
                &mut signature,
            )
            .expect("sign")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = sign
}
criterion_main!(benches);
