//! `GET /.well-known/jwks.json`: the public halves of pending, active and
//! retiring keys.
//!
//! The body and its strong ETag are computed when the key set changes, not
//! per request. `Cache-Control: public, max-age=N` with `N` the configured
//! max-age, shrunk to the time left before the next key transition. A
//! matching `If-None-Match` gets 304.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.current();
    let max_age = keys.max_age_at(state.config.jwks_max_age, shared::now_unix());
    let cache_control = format!("public, max-age={max_age}");
    let etag = keys.etag();
    let not_modified = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .any(|v| if_none_match_hits(v, etag));
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ETAG, etag.to_owned()));
    if not_modified {
        res.finish()
    } else {
        res.content_type("application/jwk-set+json")
            .body(keys.jwks_body().clone())
    }
}

/// `If-None-Match` uses the weak comparison (RFC 9110 section 13.1.2).
fn if_none_match_hits(header_value: &str, etag: &str) -> bool {
    header_value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        assert!(if_none_match_hits(r#""a", "b""#, r#""b""#));
        assert!(if_none_match_hits(r#"W/"b""#, r#""b""#));
        assert!(if_none_match_hits("*", r#""b""#));
        assert!(!if_none_match_hits(r#""c""#, r#""b""#));
    }
}
