//! Round-trip properties of the strict decoders (proptest): what the
//! ordinary encoders produce is accepted and decodes back to the input;
//! the non-canonical variants are refused. The fuzz targets in `fuzz/`
//! check the same decoders against arbitrary input.

use base64::Engine as _;
use proptest::prelude::*;
use shared::form::{Form, decode_component};
use shared::{b64, basic, cookie};

/// One form component as the usual encoder writes it (`+` for space,
/// `%XX` for everything outside the unreserved set).
fn encode_component(text: &str) -> String {
    let pair = serde_urlencoded::to_string([("v", text)]).unwrap_or_default();
    pair.strip_prefix("v=").unwrap_or_default().to_owned()
}

/// Text of any Unicode scalar values except U+FFFD, which the decoders
/// treat as the mark of invalid UTF-8.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        any::<char>().prop_filter("U+FFFD", |c| *c != '\u{FFFD}'),
        0..max_chars,
    )
    .prop_map(String::from_iter)
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

proptest! {
    #[test]
    fn b64_decodes_what_it_encodes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let text = b64::encode(&bytes);
        prop_assert!(b64::is_alphabet(&text));
        prop_assert!(!text.contains('='));
        prop_assert_eq!(b64::decode(&text).ok(), Some(bytes.clone()));
        let mut appended = String::from("x");
        b64::encode_into(&bytes, &mut appended);
        prop_assert_eq!(&appended[1..], text.as_str());
    }

    #[test]
    fn b64_refuses_non_canonical_forms(
        bytes in proptest::collection::vec(any::<u8>(), 1..200),
        bits in 1u8..16,
    ) {
        let text = b64::encode(&bytes);
        // Padded, as standard base64 writes it.
        let padded = base64::engine::general_purpose::URL_SAFE.encode(&bytes);
        if padded != text {
            prop_assert!(b64::decode(&padded).is_err(), "padding: {}", padded);
        }
        // The standard alphabet's `+` and `/` for `-` and `_`.
        let standard = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        if standard != text {
            prop_assert!(b64::decode(&standard).is_err(), "alphabet: {}", standard);
        }
        // The same length with unused trailing bits set: a second spelling
        // of the same bytes, which must be refused. One leftover byte leaves
        // 4 unused bits in the last character, two leave 2.
        let unused = match bytes.len() % 3 { 1 => 4, 2 => 2, _ => 0 };
        if unused > 0 {
            let last = text.as_bytes()[text.len() - 1];
            let index = ALPHABET.iter().position(|c| *c == last).unwrap_or_default();
            let mask = (1u8 << unused) - 1;
            let bits = bits & mask;
            if bits != 0 {
                let mut changed = text.as_bytes()[..text.len() - 1].to_vec();
                changed.push(ALPHABET[index | usize::from(bits)]);
                prop_assert!(b64::decode(&changed).is_err(), "trailing bits");
            }
        }
    }

    #[test]
    fn form_parses_what_an_encoder_writes(
        params in proptest::collection::btree_map(
            text(16).prop_filter("empty name", |n| !n.is_empty()),
            text(48),
            0..shared::form::MAX_PARAMS,
        ),
    ) {
        let pairs: Vec<(&str, &str)> =
            params.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let body = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let form = Form::parse(body.as_bytes());
        prop_assert!(form.is_ok(), "{:?} refused: {}", body, form.err().map(|e| e.description()).unwrap_or_default());
        let form = form.unwrap_or_default();
        for (name, value) in &params {
            let want = (!value.is_empty()).then_some(value.as_str());
            prop_assert_eq!(form.get(name), want);
        }
    }

    #[test]
    fn form_refuses_a_repeated_parameter(name in "[a-z_]{1,20}", a in text(8), b in text(8)) {
        let body = serde_urlencoded::to_string([(&name, &a), (&name, &b)]).unwrap_or_default();
        prop_assert_eq!(
            Form::parse(body.as_bytes()).err(),
            Some(shared::form::FormError::Repeated(name))
        );
    }

    #[test]
    fn component_decodes_what_an_encoder_writes(value in text(64)) {
        prop_assert_eq!(decode_component(&encode_component(&value)), Some(value));
    }

    #[test]
    fn basic_credentials_round_trip(
        id in text(32).prop_filter("empty id", |i| !i.is_empty()),
        secret in text(64),
    ) {
        let joined = format!("{}:{}", encode_component(&id), encode_component(&secret));
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(joined));
        prop_assert_eq!(basic::parse(&header), Some((id, secret)));
    }

    #[test]
    fn cookie_is_found_among_others(
        name in "[A-Za-z0-9_]{1,16}",
        value in "[!-:<-~]{1,40}",
        before in proptest::collection::vec(("[a-z]{1,8}", "[!-:<-~]{0,8}"), 0..4),
    ) {
        let others = before
            .iter()
            .filter(|(n, _)| *n != name)
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>();
        let header = others
            .iter()
            .cloned()
            .chain([format!("{name}={value}")])
            .collect::<Vec<_>>()
            .join("; ");
        prop_assert_eq!(cookie::find([header.as_str()], &name), Some(value.as_str()));
    }
}
