//! How lists (roles, scopes, audiences) are stored: space-separated text.

pub(super) fn join(list: &[String]) -> String {
    list.join(" ")
}

pub(super) fn split(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_owned).collect()
}
