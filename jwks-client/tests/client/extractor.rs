//! The actix-web `Bearer` extractor and its RFC 6750 responses.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{App, HttpResponse, test, web};
use jwks_client::Verifier;
use jwks_client::actix::{AuthError, Bearer, Realm};

use crate::support::*;

async fn me(bearer: Bearer) -> HttpResponse {
    HttpResponse::Ok().body(bearer.sub.clone())
}

async fn write(bearer: Bearer) -> Result<HttpResponse, AuthError> {
    bearer.require_scope("items:write")?;
    Ok(HttpResponse::Ok().finish())
}

async fn read(bearer: Bearer) -> Result<HttpResponse, AuthError> {
    bearer.require_scope("items:read")?;
    Ok(HttpResponse::Ok().finish())
}

async fn auditor(bearer: Bearer) -> Result<HttpResponse, AuthError> {
    bearer.require_role("auditor")?;
    Ok(HttpResponse::Ok().finish())
}

macro_rules! app {
    ($verifier:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($verifier))
                .app_data(Realm("orders".into()))
                .route("/me", web::get().to(me))
                .route("/write", web::get().to(write))
                .route("/read", web::get().to(read))
                .route("/auditor", web::get().to(auditor)),
        )
        .await
    };
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: String,
}

async fn answer<B: actix_web::body::MessageBody>(
    res: actix_web::dev::ServiceResponse<B>,
) -> Answer {
    let header = |name| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = res.status();
    let challenge = header(header::WWW_AUTHENTICATE);
    let retry_after = header(header::RETRY_AFTER);
    let body = String::from_utf8(test::read_body(res).await.to_vec()).expect("utf8");
    Answer {
        status,
        challenge,
        retry_after,
        body,
    }
}

macro_rules! call {
    ($app:expr, $req:expr) => {
        answer(test::call_service(&$app, $req.to_request()).await).await
    };
}

fn get(path: &str) -> test::TestRequest {
    test::TestRequest::get().uri(path)
}

#[actix_web::test]
async fn rfc_6750_responses() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let app = app!(verifier_for(&server, fast_cache()));
    let good = token(&KEYS[0], &issuer_of(&server));
    let bearer = format!("Bearer {good}");

    // Success, scheme case-insensitive.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let a = call!(
            app,
            get("/me").insert_header((header::AUTHORIZATION, format!("{scheme} {good}")))
        );
        assert_eq!(a.status, StatusCode::OK, "{scheme}");
        assert_eq!(a.body, "user-1");
    }

    // No credentials, or another scheme: 401 with a bare challenge.
    for req in [
        get("/me"),
        get("/me").insert_header((header::AUTHORIZATION, "Basic dXNlcjpwdw==")),
    ] {
        let a = call!(app, req);
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.challenge.as_deref(), Some(r#"Bearer realm="orders""#));
    }

    // A bad token: 401 invalid_token with a fixed description, never the token.
    let expired = {
        let mut c = claims(&issuer_of(&server));
        c["exp"] = serde_json::json!(now() - 3600);
        sign_raw(
            &KEYS[0],
            &header(KEYS[0].kid()).to_string(),
            &c.to_string(),
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        )
    };
    let a = call!(
        app,
        get("/me").insert_header((header::AUTHORIZATION, format!("Bearer {expired}")))
    );
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.challenge.as_deref(),
        Some(r#"Bearer realm="orders", error="invalid_token", error_description="token expired""#)
    );
    assert_eq!(
        a.body,
        r#"{"error":"invalid_token","error_description":"token expired"}"#
    );
    let garbage = "abc.def.ghi";
    let a = call!(
        app,
        get("/me").insert_header((header::AUTHORIZATION, format!("Bearer {garbage}")))
    );
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(!a.body.contains(garbage) && !a.challenge.unwrap_or_default().contains(garbage));

    // Missing scope or role: 403 insufficient_scope naming the scope.
    let a = call!(
        app,
        get("/write").insert_header((header::AUTHORIZATION, bearer.clone()))
    );
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let challenge = a.challenge.unwrap_or_default();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="items:write""#), "{challenge}");
    let a = call!(
        app,
        get("/read").insert_header((header::AUTHORIZATION, bearer.clone()))
    );
    assert_eq!(a.status, StatusCode::OK);
    let a = call!(
        app,
        get("/auditor").insert_header((header::AUTHORIZATION, bearer.clone()))
    );
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(
        a.challenge
            .unwrap_or_default()
            .contains(r#"error="insufficient_scope""#)
    );

    // Malformed requests: 400 invalid_request.
    let two = get("/me")
        .append_header((header::AUTHORIZATION, bearer.clone()))
        .append_header((header::AUTHORIZATION, bearer.clone()));
    let non_ascii = get("/me").insert_header((
        header::AUTHORIZATION,
        header::HeaderValue::from_bytes("Bearer tökén".as_bytes()).expect("value"),
    ));
    let cases = [
        (
            "empty token",
            get("/me").insert_header((header::AUTHORIZATION, "Bearer ")),
        ),
        (
            "scheme only",
            get("/me").insert_header((header::AUTHORIZATION, "Bearer")),
        ),
        (
            "not a b64token",
            get("/me").insert_header((header::AUTHORIZATION, "Bearer a,b c")),
        ),
        ("non-ascii", non_ascii),
        ("two headers", two),
        (
            "also in the query",
            test::TestRequest::get()
                .uri(&format!("/me?access_token={good}"))
                .insert_header((header::AUTHORIZATION, bearer.clone())),
        ),
        (
            "only in the query",
            test::TestRequest::get().uri(&format!("/me?access_token={good}")),
        ),
    ];
    for (name, req) in cases {
        let a = call!(app, req);
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(
            a.challenge
                .unwrap_or_default()
                .contains(r#"error="invalid_request""#),
            "{name}"
        );
        assert!(
            a.body.starts_with(r#"{"error":"invalid_request""#),
            "{name}: {}",
            a.body
        );
        assert!(!a.body.contains(&good));
    }
}

#[actix_web::test]
async fn keys_unavailable_is_503_with_retry_after() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    server.set(|s| s.mode = Mode::Status(500));
    let app = app!(verifier_for(&server, fast_cache()));
    let good = token(&KEYS[0], &issuer_of(&server));
    let a = call!(
        app,
        get("/me").insert_header((header::AUTHORIZATION, format!("Bearer {good}")))
    );
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        a.retry_after
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1))
    );
    assert!(a.body.contains("temporarily_unavailable"));
}

#[actix_web::test]
async fn verifier_may_be_registered_directly_and_realm_defaults() {
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let verifier: Verifier = verifier_for(&server, fast_cache());
    let app = test::init_service(
        App::new()
            .app_data(verifier)
            .route("/me", web::get().to(me)),
    )
    .await;
    let good = token(&KEYS[0], &issuer_of(&server));
    let a = call!(
        app,
        get("/me").insert_header((header::AUTHORIZATION, format!("Bearer {good}")))
    );
    assert_eq!(a.status, StatusCode::OK);
    let a = call!(app, get("/me"));
    assert_eq!(a.challenge.as_deref(), Some(r#"Bearer realm="api""#));
}

/// A second service inside one app: `/admin` registers its own verifier
/// (keys held in memory, the issuer's own) and realm on its scope, next to
/// the app's fetched verifier. Each route judges tokens with its scope's
/// verifier and answers as the issuer's admin API does.
#[actix_web::test]
async fn a_scope_may_register_its_own_local_keys_verifier_and_realm() {
    async fn keys_admin(bearer: Bearer) -> Result<HttpResponse, AuthError> {
        bearer.require_scope("keys:admin")?;
        Ok(HttpResponse::Ok().body(bearer.sub.clone()))
    }
    let server = JwksServer::start(jwks(&[&KEYS[0]])).await;
    let own = "https://issuer.example";
    let local = Verifier::builder()
        .issuer(
            jwks_client::IssuerConfig::new(own)
                .audiences([own])
                .local_keys(local_keys(&[&KEYS[1]])),
        )
        .build()
        .expect("build");
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(verifier_for(&server, fast_cache())))
            .app_data(web::Data::new(Realm("orders".into())))
            .route("/me", web::get().to(me))
            .service(
                web::scope("/admin")
                    .app_data(web::Data::new(local))
                    .app_data(web::Data::new(Realm("issuer".into())))
                    .route("/keys", web::get().to(keys_admin)),
            ),
    )
    .await;
    let admin_token = |scope: &str| {
        let mut c = claims(own);
        c["aud"] = serde_json::json!(own);
        c["scope"] = serde_json::json!(scope);
        sign_raw(
            &KEYS[1],
            &header(KEYS[1].kid()).to_string(),
            &c.to_string(),
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        )
    };
    let auth = |t: &str| (header::AUTHORIZATION, format!("Bearer {t}"));

    let a = call!(
        app,
        get("/admin/keys").insert_header(auth(&admin_token("keys:admin")))
    );
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // The app's own routes do not trust the scope's issuer, and the scope
    // does not trust the app's.
    let a = call!(
        app,
        get("/me").insert_header(auth(&admin_token("keys:admin")))
    );
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = call!(
        app,
        get("/admin/keys").insert_header(auth(&token(&KEYS[0], &issuer_of(&server))))
    );
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.body.starts_with(r#"{"error":"invalid_token""#));
    assert_eq!(server.jwks_hits(), 0, "the app verifier was never asked");

    // The admin API's answers: no credentials, bad token, malformed, scope.
    let a = call!(app, get("/admin/keys"));
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.challenge.as_deref(), Some(r#"Bearer realm="issuer""#));
    let a = call!(app, get("/admin/keys").insert_header(auth("abc.def.ghi")));
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let challenge = a.challenge.unwrap_or_default();
    assert!(challenge.starts_with(r#"Bearer realm="issuer", error="invalid_token""#));
    assert!(a.body.starts_with(r#"{"error":"invalid_token""#));
    let good = admin_token("keys:admin");
    for req in [
        get("/admin/keys").insert_header((header::AUTHORIZATION, "Bearer two words")),
        get("/admin/keys")
            .append_header(auth(&good))
            .append_header(auth(&good)),
    ] {
        let a = call!(app, req);
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        let challenge = a.challenge.unwrap_or_default();
        assert!(challenge.starts_with(r#"Bearer realm="issuer", error="invalid_request""#));
        assert!(a.body.starts_with(r#"{"error":"invalid_request""#));
    }
    let a = call!(
        app,
        get("/admin/keys").insert_header(auth(&admin_token("items:read")))
    );
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let challenge = a.challenge.unwrap_or_default();
    assert!(challenge.starts_with(r#"Bearer realm="issuer", error="insufficient_scope""#));
    assert!(challenge.contains(r#"scope="keys:admin""#), "{challenge}");
    assert!(a.body.starts_with(r#"{"error":"insufficient_scope""#));
}
