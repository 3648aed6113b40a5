//! The tower layer: starts the session before the inner service, finishes it after.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{CACHE_CONTROL, COOKIE, HOST, HeaderName, HeaderValue, ORIGIN};
use http::{Request, Response, StatusCode};
use session_core::{
    SessionManager,
    adapter::{HeaderPatch, RequestInfo, ResponseInfo},
};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

/// Adds sessions to every request of the wrapped service.
#[derive(Clone, Debug)]
#[must_use]
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
#[derive(Clone, Debug)]
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
        let headers = request.headers();
        let host = headers.get(HOST).map(HeaderValue::as_bytes);
        // HTTP/2 carries the host in the `:authority` pseudo-header, i.e. in the URI.
        let host = host.or_else(|| request.uri().authority().map(|a| a.as_str().as_bytes()));
        let info = RequestInfo {
            method: request.method().as_str(),
            host,
            origin: headers.get(ORIGIN).map(HeaderValue::as_bytes),
            sec_fetch_site: headers.get("sec-fetch-site").map(HeaderValue::as_bytes),
        };
        let cookies = headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes);
        let token_header = self.manager.config().token_header();
        let tokens = token_header
            .into_iter()
            .flat_map(|name| headers.get_all(name));
        let session = self
            .manager
            .start_request(cookies, tokens.map(HeaderValue::as_bytes), &info);
        request.extensions_mut().insert(session.clone());
        let manager = self.manager.clone();
        // The clone is not driven to readiness; the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        // One span per request, so the store events of `session_core` carry the request's
        // method; never an id or a cookie.
        let span = tracing::info_span!("session", method = %request.method());
        Box::pin(
            async move {
                // An inner error carries no response to patch: nothing is saved.
                let mut response = inner.call(request).await?;
                let info = ResponseInfo {
                    status: response.status().as_u16(),
                    cache_control: response
                        .headers()
                        .get(CACHE_CONTROL)
                        .map(|v| v.to_str().unwrap_or_default().to_owned()),
                };
                let patch = match manager.finish_or_status(&session, info).await {
                    Ok(patch) => patch,
                    Err((code, patch)) => {
                        response = empty(code);
                        patch
                    }
                };
                if let Err(code) = write_patch(response.headers_mut(), &patch) {
                    response = empty(code);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// Writes the manager's headers; a value the `http` crate refuses is a 500, never a
/// response sent without its session headers.
fn write_patch(headers: &mut http::HeaderMap, patch: &HeaderPatch) -> Result<(), u16> {
    for name in patch.replaced() {
        headers.remove(name);
    }
    for (name, value) in patch.headers() {
        let value = HeaderValue::from_str(value).map_err(|_| {
            tracing::error!(header = name, "session header value refused");
            500u16
        })?;
        // Names come from the manager, checked when its configuration was built.
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            tracing::error!(header = name, "session header name refused");
            500u16
        })?;
        headers.append(name, value);
    }
    Ok(())
}

fn empty<B: Default>(code: u16) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}
