//! The tower layer: starts the session before the inner service, finishes it after.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{CACHE_CONTROL, COOKIE, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use session_core::{ResponseInfo, SessionManager};
use tower_layer::Layer;
use tower_service::Service;

/// Adds sessions to every request of the wrapped service.
#[derive(Clone)]
pub struct SessionLayer {
    manager: SessionManager,
}

impl SessionLayer {
    /// Sessions driven by `manager`.
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
        }
    }
}

/// The service [`SessionLayer`] produces.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: SessionManager,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let cookies = request.headers().get_all(COOKIE).iter();
        let session = self.manager.start(cookies.map(HeaderValue::as_bytes));
        request.extensions_mut().insert(session.clone());
        let manager = self.manager.clone();
        // The clone is not driven to readiness; the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
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
                Ok(()) => response,
                Err(code) => empty(code),
            })
        })
    }
}

fn empty<B: Default>(code: u16) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
