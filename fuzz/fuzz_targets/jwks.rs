//! The JWKS document parser of jwks-client, through `LocalKeys::replace_json`
//! (the same parse and member rules as a fetched set).
//!
//! Properties beyond "no panic":
//! - only a document that is not a JSON object with a `keys` array fails,
//!   and then the current set is left as it was;
//! - no more keys are usable than members pass the single-key rules of
//!   `VerifyingKey::from_jwk`, and every such key is RSA of 2048 to 8192
//!   bits.

#![no_main]

use jwks_client::keys::VerifyingKey;
use jwks_client::{Algorithm, LocalKeys};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize as _;
use shared::jwk::{Jwk, Jwks};

fuzz_target!(|data: &[u8]| {
    let keys = LocalKeys::new();
    let parsed = serde_json::from_slice::<Jwks>(data);
    match keys.replace_json(data) {
        Err(_) => {
            assert!(parsed.is_err(), "a readable document was refused");
            assert!(keys.is_empty(), "a refused document installed keys");
        }
        Ok(usable) => {
            let doc = parsed.expect("an accepted document parses");
            assert_eq!(usable, keys.len());
            let mut alone = 0;
            for member in &doc.keys {
                let Ok(jwk) = Jwk::deserialize(member) else {
                    continue;
                };
                if let Ok(key) = VerifyingKey::from_jwk(&jwk, &Algorithm::ALL) {
                    assert!((2048..=8192).contains(&key.bits()), "{} bits", key.bits());
                    alone += 1;
                }
            }
            assert!(usable <= alone, "{usable} usable of {alone} valid members");
            // Installing the same document again gives the same set.
            assert_eq!(keys.replace_json(data).ok(), Some(usable));
        }
    }
});
