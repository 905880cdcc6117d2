//! The strict `application/x-www-form-urlencoded` parser of the OAuth
//! endpoints (`shared::form`), and its single-component decoder.
//!
//! Properties beyond "no panic":
//! - an accepted body means what serde_urlencoded (the lenient reference
//!   decoder) reads in it: the same names and values, each name once, within
//!   the count and length caps, no U+FFFD (the mark of invalid UTF-8), an
//!   empty value read as absent;
//! - the accepted parameters, encoded again, parse to the same form;
//! - a decoded component, encoded again, decodes to itself.

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use shared::form::{Form, MAX_NAME_LEN, MAX_PARAMS, MAX_VALUE_LEN, decode_component};

fn encode_component(text: &str) -> String {
    let pair = serde_urlencoded::to_string([("v", text)]).expect("encodes");
    pair["v=".len()..].to_owned()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = Form::parse(data) {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(data).expect("the reference decoder reads it");
        assert!(pairs.len() <= MAX_PARAMS);
        let mut names = HashSet::new();
        for (name, value) in &pairs {
            assert!(names.insert(name.as_str()), "{name:?} repeated");
            assert!(!name.is_empty() && name.len() <= MAX_NAME_LEN);
            assert!(value.len() <= MAX_VALUE_LEN);
            assert!(!name.contains('\u{FFFD}') && !value.contains('\u{FFFD}'));
            assert_eq!(
                form.get(name),
                (!value.is_empty()).then_some(value.as_str())
            );
        }
        let again = serde_urlencoded::to_string(&pairs).expect("encodes");
        let reparsed = Form::parse(again.as_bytes()).expect("the re-encoded form parses");
        for (name, value) in &pairs {
            assert_eq!(reparsed.get(name), form.get(name), "{name:?}={value:?}");
        }
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(value) = decode_component(text)
    {
        assert!(!value.contains('\u{FFFD}'));
        assert_eq!(
            decode_component(&encode_component(&value)).as_deref(),
            Some(value.as_str())
        );
    }
});
