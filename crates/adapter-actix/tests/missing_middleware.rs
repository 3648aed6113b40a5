//! The extractor without the middleware: a 500, not a panic.

use actix_web::http::StatusCode;
use actix_web::{FromRequest, ResponseError, test::TestRequest};
use adapter_actix::{Error, Session};

#[tokio::test]
async fn extractor_without_middleware_is_a_500() {
    let request = TestRequest::default().to_http_request();
    let error = <Session>::extract(&request).await.expect_err("no session");
    assert!(matches!(error, Error::MiddlewareMissing { .. }));
    assert_eq!(
        error.error_response().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}
