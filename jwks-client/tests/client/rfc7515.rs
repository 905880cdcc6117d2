//! RFC 7515 appendix A.2: the published RS256 example verifies
//! cryptographically with its published key, then fails our policy (it has
//! no `kid` and expired in 2011).

use jwks_client::keys::VerifyingKey;
use jwks_client::{Algorithm, IssuerConfig, Verifier, VerifyError, verify_with_key};
use serde_json::json;
use shared::jwk::Jwk;

use crate::support::*;

const TOKEN: &str = concat!(
    "eyJhbGciOiJSUzI1NiJ9",
    ".",
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
    ".",
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
);

const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

fn jwk(kid: Option<&str>) -> Jwk {
    Jwk {
        kty: "RSA".into(),
        kid: kid.map(str::to_owned),
        use_: None,
        alg: None,
        key_ops: None,
        n: Some(N.into()),
        e: Some("AQAB".into()),
    }
}

fn joe() -> IssuerConfig {
    IssuerConfig::new("joe")
        .audiences(["anyone"])
        .required_typ(None)
        .required_claims(&[])
}

#[test]
fn the_published_signature_verifies_then_policy_refuses_an_expired_token() {
    let key = VerifyingKey::from_jwk(&jwk(None), &[Algorithm::RS256]).expect("RFC key is usable");
    assert_eq!(key.bits(), 2048);
    // The signature is checked before the claims: reaching `Expired` means
    // the published signature verified with the published key.
    assert_eq!(
        verify_with_key(TOKEN, &key, &joe()).err(),
        Some(VerifyError::Expired)
    );
    // Control: one flipped signature bit fails the cryptographic check.
    let mut sig = shared::b64::decode(TOKEN.rsplit('.').next().unwrap_or_default()).expect("b64");
    sig[10] ^= 1;
    let head = TOKEN.rsplit_once('.').map(|(h, _)| h).unwrap_or_default();
    let tampered = format!("{head}.{}", b64(&sig));
    assert_eq!(
        verify_with_key(&tampered, &key, &joe()).err(),
        Some(VerifyError::BadSignature)
    );
    // Signing input changed by one payload byte: also refused.
    let other = TOKEN.replacen("eyJpc3MiOiJqb2Ui", "eyJpc3MiOiJqb2Yi", 1);
    assert_eq!(
        verify_with_key(&other, &key, &joe()).err(),
        Some(VerifyError::BadSignature)
    );
}

#[tokio::test]
async fn through_a_verifier_the_token_lacks_a_kid() {
    // Served with a kid and a policy that would otherwise accept `joe`.
    let doc = json!({"keys": [jwk(Some("rfc7515-a2"))]}).to_string();
    let server = JwksServer::start(doc).await;
    let verifier = Verifier::builder()
        .issuer(joe().jwks_url(server.jwks_url()))
        .http(fast_http())
        .build()
        .expect("build");
    verifier.prefetch().await.expect("the RFC key is accepted");
    assert_eq!(verifier.health()[0].key_count, 1);
    assert_eq!(
        verifier.verify(TOKEN).await.err(),
        Some(VerifyError::MissingKid)
    );
}
