//! The extractor without the layer: a 500, not a panic.

use adapter_axum::{Error, Session};
use axum::extract::FromRequestParts;
use axum::http::{Request, StatusCode};

#[tokio::test]
async fn extractor_without_layer_is_a_500() {
    let (mut parts, ()) = Request::new(()).into_parts();
    let rejection = <Session>::from_request_parts(&mut parts, &()).await.err();
    let error = rejection.expect("no session without the layer");
    assert!(matches!(error, Error::LayerMissing { .. }));
    assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
}
