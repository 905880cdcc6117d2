//! Reading one cookie from `Cookie` request headers (RFC 6265 section 5.4:
//! `name=value` pairs separated by `;`).

/// The value of the cookie `name` in `headers` (each a `Cookie` header
/// value): the last non-empty one if it is sent more than once. Pairs are
/// trimmed of surrounding whitespace; a pair without `=` is ignored.
pub fn find<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    let mut found = None;
    for header in headers {
        for pair in header.split(';') {
            if let Some((n, v)) = pair.trim().split_once('=')
                && n == name
                && !v.is_empty()
            {
                found = Some(v);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_cookie() {
        assert_eq!(find(["a=1; rt=tok; b=2"], "rt"), Some("tok"));
        assert_eq!(find(["rt=first", "x=y;rt=second"], "rt"), Some("second"));
        assert_eq!(find(["rt=kept; rt="], "rt"), Some("kept"), "empty ignored");
        assert_eq!(find(["rt=a=b"], "rt"), Some("a=b"));
        assert_eq!(find(["  rt=v  ;"], "rt"), Some("v"));
    }

    #[test]
    fn ignores_other_names_and_junk() {
        assert_eq!(find(["xrt=1; rt2=2; RT=3"], "rt"), None);
        assert_eq!(find(["rt", ";;;", ""], "rt"), None);
        assert_eq!(find(std::iter::empty(), "rt"), None);
    }
}
