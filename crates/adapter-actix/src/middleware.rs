//! The middleware: starts the session before the wrapped service, finishes it after.

use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, COOKIE, HOST, HeaderMap, HeaderName, HeaderValue, ORIGIN,
};
use actix_web::{HttpMessage, HttpResponse};
use session_core::{
    Primary, SessionManager,
    adapter::{HeaderPatch, RequestClaims, RequestInfo, ResponseInfo},
};
use tracing::Instrument;

use crate::Session;

/// Adds sessions to every request of the wrapped app or scope:
/// `.wrap(SessionMiddleware::new(manager))`; handlers take them as
/// [`Session<M>`](crate::Session).
#[must_use]
pub struct SessionMiddleware<M = Primary> {
    manager: SessionManager,
    marker: PhantomData<fn() -> M>,
}

impl SessionMiddleware {
    /// Sessions driven by `manager`, extracted as [`Session`](crate::Session).
    pub fn new(manager: SessionManager) -> Self {
        Self::marked(manager)
    }
}

impl<M> SessionMiddleware<M> {
    /// Sessions driven by `manager`, extracted as `Session<M>`: one middleware per manager
    /// when an app runs several (`struct Admin;` then
    /// `.wrap(SessionMiddleware::<Admin>::marked(…))`).
    ///
    /// Each manager needs its own cookie name (and token headers, with the header
    /// transport) and, for per-user listings and "log out everywhere" to stay apart, its
    /// own store or table. A request reaching two middlewares that share a marker, a cookie
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
impl<M> Clone for SessionMiddleware<M> {
    fn clone(&self) -> Self {
        Self::marked(self.manager.clone())
    }
}

impl<M> std::fmt::Debug for SessionMiddleware<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("marker", &std::any::type_name::<M>())
            .field("manager", &self.manager)
            .finish()
    }
}

impl<S, B, M> Transform<S, ServiceRequest> for SessionMiddleware<M>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    M: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SessionService<S, M>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, inner: S) -> Self::Future {
        ready(Ok(SessionService {
            inner: Rc::new(inner),
            manager: self.manager.clone(),
            marker: PhantomData,
        }))
    }
}

/// The service [`SessionMiddleware`] produces.
pub struct SessionService<S, M = Primary> {
    inner: Rc<S>,
    manager: SessionManager,
    marker: PhantomData<fn() -> M>,
}

impl<S, M> std::fmt::Debug for SessionService<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("marker", &std::any::type_name::<M>())
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl<S, B, M> Service<ServiceRequest> for SessionService<S, M>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    M: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(inner);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let claimed = {
            let mut extensions = request.extensions_mut();
            let mut claims = extensions.remove::<RequestClaims>().unwrap_or_default();
            let claimed = claims.claim::<M>(self.manager.config());
            extensions.insert(claims);
            claimed
        };
        if let Err(conflict) = claimed {
            tracing::error!(error = %conflict, "session middlewares conflict");
            let response = request.into_response(HttpResponse::InternalServerError().finish());
            return Box::pin(ready(Ok(response.map_into_right_body())));
        }
        let headers = request.headers();
        let info = RequestInfo {
            method: request.method().as_str(),
            host: headers.get(HOST).map(HeaderValue::as_bytes),
            origin: headers.get(ORIGIN).map(HeaderValue::as_bytes),
            sec_fetch_site: headers.get("sec-fetch-site").map(HeaderValue::as_bytes),
        };
        let cookies = headers.get_all(COOKIE).map(HeaderValue::as_bytes);
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
        let (inner, manager) = (Rc::clone(&self.inner), self.manager.clone());
        // One span per request, so the store events of `session_core` carry the request's
        // method; never an id or a cookie.
        let span = tracing::info_span!("session", method = %request.method());
        Box::pin(
            async move {
                // An inner error carries no response to patch: nothing is saved.
                let response = inner.call(request).await?;
                let info = ResponseInfo {
                    status: response.status().as_u16(),
                    cache_control: response
                        .headers()
                        .get(CACHE_CONTROL)
                        .map(|v| v.to_str().unwrap_or_default().to_owned()),
                };
                let (mut response, patch) = match manager.finish_or_status(&session, info).await {
                    Ok(patch) => (response.map_into_left_body(), patch),
                    Err((code, patch)) => (error_response(response, code), patch),
                };
                if let Err(code) = write_patch(response.headers_mut(), &patch) {
                    response = error_response(response, code);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// The response replaced by an empty one with status `code` (the body type stays the
/// right arm, whatever the left one was).
fn error_response<B, L>(response: ServiceResponse<L>, code: u16) -> ServiceResponse<EitherBody<B>> {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .into_response(HttpResponse::new(status))
        .map_into_right_body()
}

/// Writes the manager's headers; a value actix refuses is a 500, never a response sent
/// without its session headers.
fn write_patch(headers: &mut HeaderMap, patch: &HeaderPatch) -> Result<(), u16> {
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
