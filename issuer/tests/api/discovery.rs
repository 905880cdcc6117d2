//! Discovery documents, health and metrics endpoints.

use crate::helpers::spawn_app;

#[tokio::test]
async fn discovery_documents_name_the_issuer_exactly() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc = app.get_json(path).await;
        assert_eq!(doc["issuer"], app.issuer_url.as_str());
        assert_eq!(
            doc["jwks_uri"],
            format!("{}/.well-known/jwks.json", app.issuer_url)
        );
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/oauth2/token", app.issuer_url)
        );
        assert_eq!(doc["id_token_signing_alg_values_supported"][0], "RS256");
        assert!(doc["grant_types_supported"].as_array().unwrap().len() >= 2);
    }
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let app = spawn_app().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.address)).send();
    assert_eq!(get("/healthz").await.unwrap().status().as_u16(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let res = get("/metrics").await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"issuer_http_requests_total{route="/readyz",method="GET",status="200"} 1"#),
        "{text}"
    );
    assert!(
        get("/nope")
            .await
            .unwrap()
            .headers()
            .contains_key("x-request-id")
    );
}
