//! HTTP Basic client credentials (RFC 6749 section 2.3.1): the client id
//! and secret are form-encoded, joined by `:` and base64-encoded.

use base64::Engine as _;

use crate::form::decode_component;

/// Longest base64 credential text accepted (before decoding).
pub const MAX_ENCODED_LEN: usize = 2048;

/// The client id and secret of an `Authorization` header value
/// `Basic base64(urlencode(id):urlencode(secret))`; `None` for any other
/// scheme, bad base64, text that is not UTF-8 or not form-encoded, or an
/// empty id. The scheme name is case-insensitive.
pub fn parse(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || encoded.len() > MAX_ENCODED_LEN {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = decode_component(id)?;
    let secret = decode_component(secret)?;
    (!id.is_empty()).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(text: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }

    #[test]
    fn credentials_are_form_decoded() {
        // "my%3Aapp:s%26k+1"
        assert_eq!(
            parse("Basic bXklM0FhcHA6cyUyNmsrMQ=="),
            Some(("my:app".to_owned(), "s&k 1".to_owned()))
        );
        assert_eq!(
            parse(&basic("app:")),
            Some(("app".to_owned(), String::new()))
        );
        assert!(parse(&basic("app:s")).is_some());
        assert!(parse(&basic("app:s").replace("Basic", "bAsIc")).is_some());
    }

    #[test]
    fn refuses_anything_else() {
        for value in [
            "Bearer x".to_owned(),
            "Basic".to_owned(),
            "Basic !!!".to_owned(),
            basic(":secret"),
            basic("no-colon"),
            basic("app:%zz"),
            basic("app:%ff"),
            format!("Basic {}", "QUFB".repeat(600)),
            "Basic /w==".to_owned(), // not UTF-8
        ] {
            assert_eq!(parse(&value), None, "{value}");
        }
    }
}
