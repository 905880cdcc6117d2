//! HTTP Basic client credentials (`shared::basic::parse`), given both as a
//! whole header value and as the decoded `id:secret` text (which the harness
//! base64-encodes, so the fuzzer explores the form decoding behind it).
//!
//! Properties beyond "no panic":
//! - an accepted id is never empty;
//! - accepted credentials, encoded again canonically, parse to the same
//!   pair.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use shared::basic;

fn encode_component(text: &str) -> String {
    let pair = serde_urlencoded::to_string([("v", text)]).expect("encodes");
    pair["v=".len()..].to_owned()
}

fn check(value: &str) {
    let Some((id, secret)) = basic::parse(value) else {
        return;
    };
    assert!(!id.is_empty(), "empty client id accepted");
    let joined = format!("{}:{}", encode_component(&id), encode_component(&secret));
    let encoded = STANDARD.encode(joined);
    if encoded.len() <= basic::MAX_ENCODED_LEN {
        let again = basic::parse(&format!("Basic {encoded}"));
        assert_eq!(again, Some((id, secret)), "canonical re-encoding");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = std::str::from_utf8(data) {
        check(value);
    }
    check(&format!("Basic {}", STANDARD.encode(data)));
});
