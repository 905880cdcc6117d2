//! Cookie parsing (`shared::cookie::find`), as the issuer reads its refresh
//! cookie: each input line is one `Cookie` header.
//!
//! Properties beyond "no panic":
//! - a found value is non-empty, holds no `;`, does not end in whitespace,
//!   and stands in the input as `name=value`;
//! - the same value sent alone is found again; a later pair of the same name
//!   wins.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::cookie::find;

/// The issuer's refresh cookie (`issuer::routes::cookie::COOKIE_NAME`).
const NAME: &str = "issuer_refresh";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let headers: Vec<&str> = text.split('\n').collect();
    let Some(value) = find(headers.iter().copied(), NAME) else {
        return;
    };
    assert!(!value.is_empty());
    assert!(!value.contains(';'));
    assert_eq!(value.trim_end(), value);
    let pair = format!("{NAME}={value}");
    assert!(text.contains(&pair));
    assert_eq!(find([pair.as_str()], NAME), Some(value));
    let later = format!("{NAME}=later");
    let with_later: Vec<&str> = headers.iter().copied().chain([later.as_str()]).collect();
    assert_eq!(find(with_later, NAME), Some("later"));
});
