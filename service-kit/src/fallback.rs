//! The answers for requests no handler takes, shared by the actix-web
//! services: an unknown path is 404 `not_found` ([`not_found`], the app's
//! default service), a known path with another method is 405
//! `method_not_allowed` with `Allow` (an [`Endpoint`], which registers a
//! path's handlers by method and knows which methods it has).
//!
//! Both are `application/json` bodies in the RFC 6749 / 6750 shape,
//! `{"error": ..., "error_description": ...}`, with fixed texts: nothing
//! from the request (path, method, query) is echoed.
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, web};
//! use service_kit::fallback::{self, Endpoint};
//!
//! async fn items() -> HttpResponse { HttpResponse::Ok().finish() }
//!
//! let app = App::new()
//!     .service(Endpoint::new("/v1/items").get(items).post(items))
//!     .default_service(web::to(fallback::not_found));
//! # drop(app);
//! ```

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, web};

/// The body of a 404.
pub const NOT_FOUND_BODY: &str =
    r#"{"error":"not_found","error_description":"no resource at this address"}"#;

/// The body of a 405.
pub const METHOD_NOT_ALLOWED_BODY: &str = r#"{"error":"method_not_allowed","error_description":"this resource does not accept the method; see Allow"}"#;

/// 404 `not_found`: register with `App::default_service(web::to(not_found))`.
pub async fn not_found() -> HttpResponse {
    json(StatusCode::NOT_FOUND, NOT_FOUND_BODY)
}

/// 405 `method_not_allowed` naming the methods the resource takes.
pub fn method_not_allowed(allow: HeaderValue) -> HttpResponse {
    let mut res = json(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED_BODY);
    res.headers_mut().insert(header::ALLOW, allow);
    res
}

fn json(status: StatusCode, body: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body)
}

/// One path and its handlers by method; any other method on the path is
/// answered by [`method_not_allowed`] with the registered methods in
/// `Allow`. Register it with `App::service` or `Scope::service`.
pub struct Endpoint {
    resource: Resource,
    methods: Vec<Method>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint at `path` (an actix path pattern) with no handler yet.
    pub fn new(path: &str) -> Self {
        Endpoint {
            resource: web::resource(path),
            methods: Vec::new(),
        }
    }

    /// Answers `GET` with `handler`.
    pub fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::GET, handler)
    }

    /// Answers `POST` with `handler`.
    pub fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::POST, handler)
    }

    /// Answers `method` with `handler`.
    pub fn method<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::method(method.clone()).to(handler));
        self.methods.push(method);
        self
    }

    /// The `Allow` value: the registered methods, comma-separated.
    fn allow(&self) -> HeaderValue {
        let names: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
        // Method names are tokens, always a valid header value.
        HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static(""))
    }
}

impl HttpServiceFactory for Endpoint {
    fn register(self, config: &mut AppService) {
        let allow = self.allow();
        self.resource
            .default_service(web::to(move || {
                std::future::ready(method_not_allowed(allow.clone()))
            }))
            .register(config);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::{App, test};

    use super::*;

    async fn ok() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn wrong_method_is_405_with_allow_and_unknown_path_404() {
        let app = test::init_service(
            App::new()
                .service(Endpoint::new("/items").get(ok).post(ok))
                .default_service(web::to(not_found)),
        )
        .await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/items").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);

        let req = test::TestRequest::delete().uri("/items").to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers().get(header::ALLOW).unwrap(), "GET, POST");
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body = test::read_body(res).await;
        assert_eq!(body, METHOD_NOT_ALLOWED_BODY.as_bytes());

        let req = test::TestRequest::get().uri("/nothing/here").to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        assert_eq!(test::read_body(res).await, NOT_FOUND_BODY.as_bytes());
    }
}
