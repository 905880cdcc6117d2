//! The JWS compact serialization (RFC 7515 section 7.1), parsed by hand and
//! strictly: three segments, canonical unpadded base64url, JSON objects
//! without duplicate members, no `crit`, no embedded or referenced keys.
//!
//! Parsing borrows from the token and decodes small segments into stack
//! buffers, so the hot path allocates only for the claim strings it returns.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use shared::claims::Audience;

use crate::algorithm::Algorithm;
use crate::error::VerifyError;
use crate::keys::{MAX_KID_BYTES, VerifyingKey};

/// The verified claims of an access token (RFC 9068 plus `roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    pub iss: String,
    /// Empty when the token has no `sub` and the policy does not require it.
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub jti: Option<String>,
    pub client_id: Option<String>,
    /// Space-separated scopes; empty when none.
    pub scope: String,
    /// Empty for client-credentials tokens.
    pub roles: Vec<String>,
    /// The token carried a `roles` claim (see [`Claims::has_roles_claim`]).
    #[serde(skip)]
    pub(crate) roles_claim: bool,
}

impl Claims {
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the token carried a `roles` claim at all, an empty array
    /// included ([`Claims::roles`] is empty either way). The issuer of this
    /// workspace puts one in user tokens and none in client-credentials
    /// tokens.
    pub fn has_roles_claim(&self) -> bool {
        self.roles_claim
    }
}

/// The three segments of a compact JWS, borrowed from the token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segments<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    /// `header.payload`, the JWS signing input.
    pub signing_input: &'a str,
    pub signature: &'a str,
}

/// Splits a compact JWS into exactly three segments; header and payload
/// must be non-empty (an empty signature, as `alg: none` would have, is
/// refused later, after the header has said why).
pub(crate) fn split(token: &str) -> Result<Segments<'_>, VerifyError> {
    // `str::find` with a char uses the library's vectorised memchr.
    let first = token.find('.').ok_or(VerifyError::Malformed)?;
    let second = first + 1 + token[first + 1..].find('.').ok_or(VerifyError::Malformed)?;
    if token[second + 1..].contains('.') {
        return Err(VerifyError::Malformed);
    }
    let header = &token[..first];
    let payload = &token[first + 1..second];
    let signature = &token[second + 1..];
    if header.is_empty() || payload.is_empty() {
        return Err(VerifyError::Malformed);
    }
    Ok(Segments {
        header,
        payload,
        signing_input: &token[..second],
        signature,
    })
}

/// Decodes strict base64url into `stack` when it fits, else into `heap`.
pub(crate) fn decode_segment<'b>(
    segment: &str,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], VerifyError> {
    let estimate = segment.len() / 4 * 3 + 3;
    if estimate <= stack.len() {
        let n = shared::b64::STRICT
            .decode_slice(segment, stack)
            .map_err(|_| VerifyError::BadBase64)?;
        Ok(&stack[..n])
    } else {
        *heap = shared::b64::decode(segment).map_err(|_| VerifyError::BadBase64)?;
        Ok(heap.as_slice())
    }
}

/// The JOSE header members this crate looks at. Members that would make the
/// token name its own key, or demand extensions, are recorded as present.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
    #[serde(default, deserialize_with = "present")]
    jku: bool,
    #[serde(default, deserialize_with = "present")]
    x5u: bool,
    #[serde(default, deserialize_with = "present")]
    jwk: bool,
    #[serde(default, deserialize_with = "present")]
    x5c: bool,
}

/// A parsed, policy-independent view of the header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub alg: Algorithm,
    pub kid: Option<Arc<str>>,
    /// Checked against the issuer's policy once the issuer is known.
    typ: Option<Arc<str>>,
}

impl Header {
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// Headers longer than this are not memoised.
const MEMO_MAX_HEADER: usize = 512;

thread_local! {
    /// The last header segment parsed on this thread and its result. Tokens
    /// of one issuer and key share their header byte for byte, so this
    /// skips decoding and parsing it again; the result is a pure function
    /// of the segment, so the memo cannot change any outcome.
    static LAST_HEADER: RefCell<Option<(Box<str>, Header)>> = const { RefCell::new(None) };
}

/// [`parse_header`], memoised per thread for the last accepted segment.
pub(crate) fn parse_header_memo(segment: &str) -> Result<Header, VerifyError> {
    if segment.len() > MEMO_MAX_HEADER {
        return parse_header(segment);
    }
    let hit = LAST_HEADER.with_borrow(|memo| {
        memo.as_ref()
            .filter(|(seen, _)| **seen == *segment)
            .map(|(_, header)| header.clone())
    });
    if let Some(header) = hit {
        return Ok(header);
    }
    let header = parse_header(segment)?;
    LAST_HEADER.with_borrow_mut(|memo| *memo = Some((Box::from(segment), header.clone())));
    Ok(header)
}

/// Parses and checks the header: JSON object, no duplicates, no `crit`, no
/// `jku`/`x5u`/`jwk`/`x5c`, an RSA algorithm this crate knows (`none` and
/// HMAC are refused whatever their case), and a bounded `kid` if present.
pub(crate) fn parse_header(segment: &str) -> Result<Header, VerifyError> {
    let mut stack = [0u8; 384];
    let mut heap = Vec::new();
    let json = decode_segment(segment, &mut stack, &mut heap)?;
    ensure_object(json, VerifyError::InvalidHeader)?;
    let raw: RawHeader<'_> =
        serde_json::from_slice(json).map_err(|e| json_error(&e, VerifyError::InvalidHeader))?;
    if raw.crit {
        return Err(VerifyError::CritHeader);
    }
    if raw.jku || raw.x5u || raw.jwk || raw.x5c {
        return Err(VerifyError::ForbiddenHeader);
    }
    let alg = raw
        .alg
        .as_deref()
        .and_then(Algorithm::from_name)
        .ok_or(VerifyError::AlgorithmNotAllowed)?;
    let kid = match raw.kid {
        None => None,
        Some(kid) => {
            if kid.is_empty() || kid.len() > MAX_KID_BYTES || kid.chars().any(|c| c.is_control()) {
                return Err(VerifyError::InvalidHeader);
            }
            Some(Arc::from(kid.as_ref()))
        }
    };
    Ok(Header {
        alg,
        kid,
        typ: raw.typ.map(|t| Arc::from(t.as_ref())),
    })
}

/// The claim set as it arrives; presence is checked by the policy.
#[derive(Debug, Deserialize)]
pub(crate) struct RawClaims {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "audience")]
    pub aud: Option<Audience>,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub jti: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

/// Parses the payload segment into claims (before the signature is checked:
/// only to choose the issuer; nothing is trusted until it verifies).
pub(crate) fn parse_claims(segment: &str) -> Result<RawClaims, VerifyError> {
    let mut stack = [0u8; 1024];
    let mut heap = Vec::new();
    let json = decode_segment(segment, &mut stack, &mut heap)?;
    ensure_object(json, VerifyError::InvalidClaims)?;
    serde_json::from_slice(json).map_err(|e| json_error(&e, VerifyError::InvalidClaims))
}

/// Cheap shape check of the signature segment before any key lookup: not
/// empty and not longer than an RSA-8192 signature.
pub(crate) fn check_signature_shape(segment: &str) -> Result<(), VerifyError> {
    if segment.is_empty() || segment.len() > 1366 {
        return Err(VerifyError::BadSignature);
    }
    Ok(())
}

/// Decodes the signature (strict base64url, into a stack buffer) and
/// verifies it over the signing input with `key`.
pub(crate) fn verify_signature(
    key: &VerifyingKey,
    alg: Algorithm,
    segments: &Segments<'_>,
) -> Result<(), VerifyError> {
    check_signature_shape(segments.signature)?;
    // RSA up to 4096 bits decodes on the stack; larger keys use the heap.
    let mut stack = [0u8; 512];
    let mut heap = Vec::new();
    let signature = decode_segment(segments.signature, &mut stack, &mut heap)?;
    key.verify(alg, segments.signing_input.as_bytes(), signature)
}

/// serde derives accept a JSON array for a struct; a JOSE header or claim
/// set must be an object.
fn ensure_object(json: &[u8], otherwise: VerifyError) -> Result<(), VerifyError> {
    match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err(otherwise),
    }
}

fn json_error(e: &serde_json::Error, otherwise: VerifyError) -> VerifyError {
    // serde's derive reports a repeated member as "duplicate field `name`".
    if e.is_data() && e.to_string().starts_with("duplicate field") {
        VerifyError::DuplicateMember
    } else {
        otherwise
    }
}

/// `aud` is a string or an array of strings; `null` counts as absent.
fn audience<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Audience>, D::Error> {
    struct AudVisitor;

    impl<'de> Visitor<'de> for AudVisitor {
        type Value = Option<Audience>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an array of strings")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Audience::One(v.to_owned())))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Audience::One(v)))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(16));
            while let Some(item) = seq.next_element::<String>()? {
                list.push(item);
            }
            Ok(Some(Audience::Many(list)))
        }
    }

    d.deserialize_any(AudVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(json: &str) -> String {
        shared::b64::encode(json)
    }

    #[test]
    fn split_needs_exactly_three_non_empty_segments() {
        assert!(split("a.b.c").is_ok());
        assert_eq!(split("a.b").err(), Some(VerifyError::Malformed));
        assert_eq!(split("a.b.c.d").err(), Some(VerifyError::Malformed));
        assert_eq!(split("a..c").err(), Some(VerifyError::Malformed));
        assert!(split("a.b.").is_ok());
        assert_eq!(split("").err(), Some(VerifyError::Malformed));
    }

    #[test]
    fn header_rules() {
        let ok = parse_header(&enc(r#"{"alg":"RS256","kid":"k","typ":"at+jwt"}"#));
        assert!(ok.is_ok());
        for (json, want) in [
            (
                r#"{"alg":"none","kid":"k"}"#,
                VerifyError::AlgorithmNotAllowed,
            ),
            (
                r#"{"alg":"NONE","kid":"k"}"#,
                VerifyError::AlgorithmNotAllowed,
            ),
            (
                r#"{"alg":"HS256","kid":"k"}"#,
                VerifyError::AlgorithmNotAllowed,
            ),
            (
                r#"{"alg":"rs256","kid":"k"}"#,
                VerifyError::AlgorithmNotAllowed,
            ),
            (r#"{"kid":"k"}"#, VerifyError::AlgorithmNotAllowed),
            (
                r#"{"alg":"RS256","kid":"k","crit":["exp"]}"#,
                VerifyError::CritHeader,
            ),
            (
                r#"{"alg":"RS256","kid":"k","crit":null}"#,
                VerifyError::CritHeader,
            ),
            (
                r#"{"alg":"RS256","kid":"k","jku":"x"}"#,
                VerifyError::ForbiddenHeader,
            ),
            (
                r#"{"alg":"RS256","kid":"k","x5c":[]}"#,
                VerifyError::ForbiddenHeader,
            ),
            (r#"{"alg":"RS256","kid":7}"#, VerifyError::InvalidHeader),
            (
                r#"{"alg":"RS256","kid":"a","kid":"b"}"#,
                VerifyError::DuplicateMember,
            ),
            (
                r#"{"alg":"RS256","al\u0067":"RS256","kid":"a"}"#,
                VerifyError::DuplicateMember,
            ),
            (r#"["RS256","k"]"#, VerifyError::InvalidHeader),
            (r#"{"alg":"RS256","kid":""}"#, VerifyError::InvalidHeader),
            ("not json", VerifyError::InvalidHeader),
        ] {
            assert_eq!(parse_header(&enc(json)).err(), Some(want), "{json}");
        }
    }

    #[test]
    fn claims_types_are_strict() {
        let c = parse_claims(&enc(r#"{"iss":"i","aud":["a","b"],"exp":5}"#));
        assert!(c.is_ok_and(|c| c.aud.is_some_and(|a| a.contains("b"))));
        for json in [
            r#"{"exp":"5"}"#,
            r#"{"aud":5}"#,
            r#"{"aud":[5]}"#,
            r#"{"exp":1.5}"#,
            r#"{"roles":"admin"}"#,
        ] {
            assert_eq!(
                parse_claims(&enc(json)).err(),
                Some(VerifyError::InvalidClaims),
                "{json}"
            );
        }
        assert_eq!(
            parse_claims(&enc(r#"{"exp":1,"exp":2}"#)).err(),
            Some(VerifyError::DuplicateMember)
        );
    }

    #[test]
    fn header_memo_returns_the_same_result_and_never_caches_failures() {
        let good = enc(r#"{"alg":"RS256","kid":"memo","typ":"at+jwt"}"#);
        for _ in 0..2 {
            let h = parse_header_memo(&good);
            assert!(h.is_ok_and(|h| h.kid.as_deref() == Some("memo") && h.typ() == Some("at+jwt")));
        }
        let bad = enc(r#"{"alg":"none","kid":"memo"}"#);
        for _ in 0..2 {
            assert_eq!(
                parse_header_memo(&bad).err(),
                Some(VerifyError::AlgorithmNotAllowed)
            );
        }
        assert!(parse_header_memo(&good).is_ok());
    }

    #[test]
    fn large_segments_fall_back_to_the_heap() {
        let long = format!(
            r#"{{"alg":"RS256","kid":"k","pad":"{}"}}"#,
            "x".repeat(5000)
        );
        assert!(parse_header(&enc(&long)).is_ok());
    }
}
