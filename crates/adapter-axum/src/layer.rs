//! The tower layer: starts the session before the inner service, finishes it after.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{CACHE_CONTROL, COOKIE, HOST, HeaderName, HeaderValue, ORIGIN};
use http::{Request, Response, StatusCode};
use session_core::{
    Primary, SessionManager,
    adapter::{HeaderPatch, RequestClaims, RequestInfo, ResponseInfo},
};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use crate::Session;

/// Adds sessions to every request of the wrapped service; handlers take them as
/// [`Session<M>`](crate::Session).
pub struct SessionLayer<M = Primary> {
    manager: SessionManager,
    marker: PhantomData<fn() -> M>,
}

impl SessionLayer {
    /// Sessions driven by `manager`, extracted as [`Session`](crate::Session).
    pub fn new(manager: SessionManager) -> Self {
        Self::marked(manager)
    }
}

impl<M> SessionLayer<M> {
    /// Sessions driven by `manager`, extracted as `Session<M>`: one layer per manager
    /// when an app runs several (`struct Admin;` then `SessionLayer::<Admin>::marked(…)`).
    ///
    /// Each manager needs its own cookie name (and token headers, with the header
    /// transport) and, for per-user listings and "log out everywhere" to stay apart, its
    /// own store or table. A request reaching two layers that share a marker, a cookie
    /// name or a token header is answered 500 before any store call, and the log says
    /// which two.
    pub fn marked(manager: SessionManager) -> Self {
        Self {
            manager,
            marker: PhantomData,
        }
    }
}

// Not derived: a derive would bound the marker.
impl<M> Clone for SessionLayer<M> {
    fn clone(&self) -> Self {
        Self::marked(self.manager.clone())
    }
}

impl<M> std::fmt::Debug for SessionLayer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("marker", &std::any::type_name::<M>())
            .field("manager", &self.manager)
            .finish()
    }
}

impl<S, M> Layer<S> for SessionLayer<M> {
    type Service = SessionService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
            marker: PhantomData,
        }
    }
}

/// The service [`SessionLayer`] produces.
pub struct SessionService<S, M = Primary> {
    inner: S,
    manager: SessionManager,
    marker: PhantomData<fn() -> M>,
}

impl<S: Clone, M> Clone for SessionService<S, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            manager: self.manager.clone(),
            marker: PhantomData,
        }
    }
}

impl<S: std::fmt::Debug, M> std::fmt::Debug for SessionService<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("marker", &std::any::type_name::<M>())
            .field("inner", &self.inner)
            .field("manager", &self.manager)
            .finish()
    }
}

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S, M>
where
    M: 'static,
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
        let claims = request
            .extensions_mut()
            .get_or_insert_default::<RequestClaims>();
        if let Err(conflict) = claims.claim::<M>(self.manager.config()) {
            tracing::error!(error = %conflict, "session layers conflict");
            // An async block holds no error value, so it is `Send` whatever `S::Error` is.
            return Box::pin(async { Ok(empty(500)) });
        }
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
        request
            .extensions_mut()
            .insert(Session::<M>::new(session.clone()));
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
