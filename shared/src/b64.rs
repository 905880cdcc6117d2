//! base64url without padding (RFC 7515 section 2), strict on decode.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Canonical base64url: no padding accepted, non-zero trailing bits rejected.
pub const STRICT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    STRICT.encode(bytes)
}

/// Appends unpadded base64url of `bytes` to `out` (no intermediate allocation).
pub fn encode_into(bytes: impl AsRef<[u8]>, out: &mut String) {
    STRICT.encode_string(bytes, out)
}

/// Whether `text` uses only the base64url alphabet (no padding). A cheap
/// shape check for identifiers we issue (a `kid`, a refresh token) before
/// any lookup.
pub fn is_alphabet(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Decodes canonical unpadded base64url; anything else is an error.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, base64::DecodeError> {
    STRICT.decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_non_canonical_input() {
        assert_eq!(encode(b"hi?"), "aGk_");
        assert_eq!(decode("aGk_").ok(), Some(b"hi?".to_vec()));
        assert!(decode("aGk=").is_err(), "padding");
        assert!(decode("aGk/").is_err(), "standard alphabet");
        assert_eq!(decode("aGk").ok(), Some(b"hi".to_vec()));
        assert!(decode("aGl").is_err(), "non-zero trailing bits");
        assert!(is_alphabet("aGk_-09Z"));
        assert!(!is_alphabet("aGk=") && !is_alphabet("a/b") && !is_alphabet("a b"));
    }
}
