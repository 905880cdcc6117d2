//! Access tokens signed per second of CPU time, on one thread, through
//! `SigningKey::sign`; directly comparable with `openssl speed rsa2048`,
//! which also counts CPU time (use `-elapsed` there for wall-clock time).
//! CPU time is robust on a busy machine where wall-clock benchmarks are not.
//!
//! Run: `cargo run --release -p issuer --example sign_rate [seconds]`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use testkit::forge::sample_claims;
use testkit::internals::{KeyBits, SigningKey};

/// This thread's user + system CPU time in seconds (Linux `/proc`).
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every mainstream Linux configuration.
    Some((utime + stime) / 100.0)
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let key = SigningKey::generate(KeyBits::Rsa2048).expect("key generation");
    let now = shared::now_unix();
    let claims = sample_claims(now);
    let Some(start_cpu) = thread_cpu_seconds() else {
        eprintln!("needs Linux /proc/thread-self/stat");
        return;
    };
    let start_wall = std::time::Instant::now();
    let mut count = 0u64;
    let mut cpu = 0.0;
    while cpu < seconds {
        for _ in 0..100 {
            std::hint::black_box(key.sign(std::hint::black_box(&claims)).expect("sign"));
        }
        count += 100;
        cpu = thread_cpu_seconds().unwrap_or(f64::MAX) - start_cpu;
    }
    let wall = start_wall.elapsed().as_secs_f64();
    println!(
        "{count} tokens in {cpu:.2}s CPU ({wall:.2}s wall): {:.0} tokens/s per core (CPU time), {:.0} tokens/s (wall clock)",
        count as f64 / cpu,
        count as f64 / wall
    );
}
