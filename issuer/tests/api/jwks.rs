//! JWKS publication and conditional requests.

use crate::helpers::spawn_app;

#[tokio::test]
async fn jwks_has_public_members_only_and_conditional_get_is_304() {
    let app = spawn_app().await;
    let url = format!("{}/.well-known/jwks.json", app.address);
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let cache = res.headers()["cache-control"].to_str().unwrap().to_owned();
    assert_eq!(cache, "public, max-age=300");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag {etag}"
    );
    let jwks: serde_json::Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "active and pending: {jwks}");
    for key in keys {
        let mut members: Vec<&str> = key
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        members.sort_unstable();
        assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
    }

    let res = app
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 304);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert!(res.headers().contains_key("cache-control"));
    assert!(res.bytes().await.unwrap().is_empty());

    let res = app
        .http
        .get(&url)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

#[test]
fn rfc_7638_thumbprint_example() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    assert_eq!(
        shared::jwk::rsa_thumbprint(n, "AQAB"),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}
