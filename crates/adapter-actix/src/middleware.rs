//! The middleware: starts the session before the wrapped service, finishes it after.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, COOKIE, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpResponse};
use session_core::{ResponseInfo, SessionManager};

/// Adds sessions to every request of the wrapped app or scope: `.wrap(SessionMiddleware::new(manager))`.
#[derive(Clone)]
pub struct SessionMiddleware {
    manager: SessionManager,
}

impl SessionMiddleware {
    /// Sessions driven by `manager`.
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, inner: S) -> Self::Future {
        ready(Ok(SessionService {
            inner: Rc::new(inner),
            manager: self.manager.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] produces.
pub struct SessionService<S> {
    inner: Rc<S>,
    manager: SessionManager,
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(inner);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let cookies = request.headers().get_all(COOKIE);
        let session = self.manager.start(cookies.map(HeaderValue::as_bytes));
        request.extensions_mut().insert(session.clone());
        let (inner, manager) = (Rc::clone(&self.inner), self.manager.clone());
        Box::pin(async move {
            // An inner error carries no response to patch: nothing is saved.
            let mut response = inner.call(request).await?;
            let info = ResponseInfo {
                status: response.status().as_u16(),
                has_cache_control: response.headers().contains_key(CACHE_CONTROL),
            };
            let result = manager.finish_or_status(&session, info).await;
            let patched = result.and_then(|patch| {
                let headers = response.headers_mut();
                for (name, value) in patch.headers() {
                    let value = HeaderValue::from_str(value).map_err(|_| {
                        tracing::error!(header = name, "session header value refused");
                        500u16
                    })?;
                    headers.append(HeaderName::from_static(name), value);
                }
                Ok(())
            });
            Ok(match patched {
                Ok(()) => response.map_into_left_body(),
                Err(code) => {
                    let status =
                        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    response
                        .into_response(HttpResponse::new(status))
                        .map_into_right_body()
                }
            })
        })
    }
}
