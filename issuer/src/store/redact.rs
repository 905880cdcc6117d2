//! Database URLs made safe to print: the password and the query string
//! removed.

/// `url` with any password replaced by `***` and the query string dropped
/// (it may carry `password=`), for messages and logs.
pub fn redact_url(url: &str) -> String {
    let url = url.split_once('?').map_or(url, |(base, _)| base);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // Up to the last '@': a malformed password may hold '@' or '/'.
    match rest.rsplit_once('@') {
        Some((userinfo, host_and_path)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let redacted = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{redacted}@{host_and_path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_keep_everything_but_the_password() {
        assert_eq!(
            redact_url("postgres://issuer:s3cret@db:5432/issuer?sslmode=require&password=x"),
            "postgres://issuer:***@db:5432/issuer"
        );
        assert_eq!(
            redact_url("postgres://issuer@db/issuer"),
            "postgres://issuer@db/issuer"
        );
        assert_eq!(redact_url("postgres://db"), "postgres://db");
        assert_eq!(
            redact_url("sqlite:/data/issuer.db"),
            "sqlite:/data/issuer.db"
        );
        // A password holding '@' or '/' stays hidden.
        assert_eq!(
            redact_url("postgres://u:p@ss/w@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
    }
}
