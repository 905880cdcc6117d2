//! Checking what an issuer answers: independent token verification
//! against a served JWKS, `kid` helpers, RFC 6749 error responses.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use shared::claims::AccessClaims;

/// The `kid`s a JWKS document publishes.
pub fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The `kid` in a token's header.
pub fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// Verifies `token` independently with jsonwebtoken: key from `jwks` by
/// `kid`, RS256 and `typ: at+jwt` only, exact issuer, required audience,
/// every time claim (5 s leeway).
pub fn verify_with_jwks(
    token: &str,
    jwks: &serde_json::Value,
    issuer: &str,
    audience: &str,
) -> AccessClaims {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("kid in header");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in JWKS {jwks}"));
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.validate_exp = true;
    validation.leeway = 5;
    jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
        .expect("token verifies")
        .claims
}

/// Asserts an RFC 6749 error response and returns its raw body.
pub async fn expect_oauth_error(
    res: reqwest::Response,
    status: u16,
    code: &str,
) -> (reqwest::header::HeaderMap, String) {
    assert_eq!(res.status().as_u16(), status);
    let headers = res.headers().clone();
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body = res.text().await.unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], code, "{body}");
    (headers, body)
}
