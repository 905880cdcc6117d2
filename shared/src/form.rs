//! Strict `application/x-www-form-urlencoded` parsing, for the bodies of
//! the OAuth endpoints and the components of HTTP Basic client credentials.
//!
//! The body is checked for well-formed syntax first (every pair has `=`,
//! every `%` starts a valid escape, no control characters), then decoded with
//! serde_urlencoded; decoded text must be valid UTF-8. Parameter count and
//! lengths are capped, a repeated parameter is an error (RFC 6749 section
//! 3.2), and an empty value counts as absent (section 3.1).

use std::collections::HashMap;

/// Most parameters accepted in one request.
pub const MAX_PARAMS: usize = 32;
/// Longest parameter name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest parameter value (passwords are capped lower by the grant).
pub const MAX_VALUE_LEN: usize = 4096;

/// Why a form was refused; the text is fixed and safe to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    Malformed,
    TooMany,
    TooLong,
    /// The name is one of our fixed parameter names or `"parameter"`.
    Repeated(String),
}

impl FormError {
    pub fn description(&self) -> String {
        match self {
            FormError::Malformed => "malformed application/x-www-form-urlencoded body".into(),
            FormError::TooMany => "too many parameters".into(),
            FormError::TooLong => "a parameter is too long".into(),
            FormError::Repeated(name) => format!("parameter {name} is repeated"),
        }
    }
}

/// Decoded form parameters, each name at most once.
#[derive(Default)]
pub struct Form {
    params: HashMap<String, String>,
}

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be passwords or secrets: names only.
        f.debug_set().entries(self.params.keys()).finish()
    }
}

impl Form {
    pub fn parse(body: &[u8]) -> Result<Self, FormError> {
        check_syntax(body)?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| FormError::Malformed)?;
        if pairs.len() > MAX_PARAMS {
            return Err(FormError::TooMany);
        }
        let mut params = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if name.contains('\u{FFFD}') || value.contains('\u{FFFD}') || name.is_empty() {
                return Err(FormError::Malformed);
            }
            if name.len() > MAX_NAME_LEN || value.len() > MAX_VALUE_LEN {
                return Err(FormError::TooLong);
            }
            if params.contains_key(&name) {
                return Err(FormError::Repeated(safe_name(&name)));
            }
            params.insert(name, value);
        }
        Ok(Form { params })
    }

    /// The value of `name`; empty counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Repeated-parameter names are echoed only when they are plain identifiers.
fn safe_name(name: &str) -> String {
    if name.len() <= 32 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        name.to_owned()
    } else {
        "parameter".to_owned()
    }
}

fn check_syntax(body: &[u8]) -> Result<(), FormError> {
    for pair in body.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        if !pair.contains(&b'=') {
            return Err(FormError::Malformed);
        }
        let mut i = 0;
        while i < pair.len() {
            match pair[i] {
                b'%' => {
                    let hex = pair.get(i + 1..i + 3).ok_or(FormError::Malformed)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(FormError::Malformed);
                    }
                    i += 3;
                }
                // A raw space is not canonical but unambiguous, and what
                // `curl -d 'password=two words'` sends: accepted as a space.
                b if b.is_ascii_control() => return Err(FormError::Malformed),
                _ => i += 1,
            }
        }
    }
    Ok(())
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a
/// space), as in HTTP Basic client credentials (RFC 6749 section 2.3.1).
pub fn decode_component(text: &str) -> Option<String> {
    let wrapped = format!("v={text}");
    check_syntax(wrapped.as_bytes()).ok()?;
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(&wrapped).ok()?;
    if pairs.len() != 1 {
        return None;
    }
    let (_, value) = pairs.pop()?;
    (!value.contains('\u{FFFD}')).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let form = Form::parse(b"grant_type=password&username=al%20ice&password=a+b&scope=")
            .unwrap_or_default();
        assert_eq!(form.get("grant_type"), Some("password"));
        assert_eq!(form.get("username"), Some("al ice"));
        assert_eq!(form.get("password"), Some("a b"));
        assert_eq!(form.get("scope"), None, "empty is absent");
        let form = Form::parse(b"scope=items:read items:write").unwrap_or_default();
        assert_eq!(
            form.get("scope"),
            Some("items:read items:write"),
            "raw space"
        );
    }

    #[test]
    fn refuses_bad_forms() {
        assert_eq!(
            Form::parse(b"a=1&a=2").err(),
            Some(FormError::Repeated("a".into()))
        );
        assert_eq!(Form::parse(b"a=%zz").err(), Some(FormError::Malformed));
        assert_eq!(Form::parse(b"a=%4").err(), Some(FormError::Malformed));
        assert_eq!(Form::parse(b"novalue").err(), Some(FormError::Malformed));
        assert_eq!(Form::parse(b"a=%ff").err(), Some(FormError::Malformed));
        assert_eq!(
            Form::parse(b"{\"json\": 1}").err(),
            Some(FormError::Malformed)
        );
        let many = (0..40)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(Form::parse(many.as_bytes()).err(), Some(FormError::TooMany));
    }

    #[test]
    fn decodes_basic_components() {
        assert_eq!(
            decode_component("my%3Aclient").as_deref(),
            Some("my:client")
        );
        assert_eq!(decode_component("a+b").as_deref(), Some("a b"));
        assert_eq!(decode_component("%zz"), None);
    }
}
