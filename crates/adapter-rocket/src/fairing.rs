//! The fairing: starts the session when a request arrives, finishes it on the response.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Status;
use rocket::{Data, Request, Response};
use session_core::{
    Primary, SessionManager,
    adapter::{RequestInfo, ResponseInfo},
};
use tracing::Instrument;

use crate::{Claims, Session, Slot};

/// Adds sessions to every request: `.attach(SessionFairing::new(manager))`; handlers take
/// them as [`Session<M>`](crate::Session).
///
/// Rocket drops request headers that are not UTF-8 before fairings run, so a `Cookie`
/// header holding such bytes is not seen at all (other Cookie headers still are).
#[must_use]
pub struct SessionFairing<M = Primary> {
    manager: SessionManager,
    marker: PhantomData<fn() -> M>,
}

impl SessionFairing {
    /// Sessions driven by `manager`, taken as [`Session`](crate::Session).
    pub fn new(manager: SessionManager) -> Self {
        Self::marked(manager)
    }
}

impl<M> SessionFairing<M> {
    /// Sessions driven by `manager`, taken as `Session<M>`: one fairing per manager when
    /// an app runs several (`struct Admin;` then
    /// `.attach(SessionFairing::<Admin>::marked(…))`).
    ///
    /// Each manager needs its own cookie name (and token headers, with the header
    /// transport) and, for per-user listings and "log out everywhere" to stay apart, its
    /// own store or table. A request reaching two fairings that share a marker, a cookie
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
impl<M> Clone for SessionFairing<M> {
    fn clone(&self) -> Self {
        Self::marked(self.manager.clone())
    }
}

impl<M> std::fmt::Debug for SessionFairing<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionFairing")
            .field("marker", &std::any::type_name::<M>())
            .field("manager", &self.manager)
            .finish()
    }
}

#[rocket::async_trait]
impl<M: 'static> Fairing for SessionFairing<M> {
    fn info(&self) -> Info {
        Info {
            name: "Sessions",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _data: &mut Data<'_>) {
        let claims = Claims::of(request);
        let claimed = match claims.claims.lock() {
            Ok(mut held) => held.claim::<M>(self.manager.config()),
            Err(poisoned) => poisoned.into_inner().claim::<M>(self.manager.config()),
        };
        if let Err(conflict) = claimed {
            tracing::error!(error = %conflict, "session fairings conflict");
            claims.conflicted.store(true, Ordering::Relaxed);
            return;
        }
        let headers = request.headers();
        let info = RequestInfo {
            method: request.method().as_str(),
            host: headers.get_one("Host").map(str::as_bytes),
            origin: headers.get_one("Origin").map(str::as_bytes),
            sec_fetch_site: headers.get_one("Sec-Fetch-Site").map(str::as_bytes),
        };
        let cookies = headers.get("Cookie").map(str::as_bytes);
        let token_header = self.manager.config().token_header();
        let tokens = token_header.into_iter().flat_map(|name| headers.get(name));
        let session = self
            .manager
            .start_request(cookies, tokens.map(str::as_bytes), &info);
        request.local_cache(|| Slot(Some(Session::<M>::new(session))));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        if Claims::of(request).conflicted() {
            *response = Response::build()
                .status(Status::InternalServerError)
                .finalize();
            return;
        }
        let Some(session) = &request.local_cache(Slot::<M>::empty).0 else {
            return;
        };
        let info = ResponseInfo {
            status: response.status().code,
            cache_control: response
                .headers()
                .get_one("Cache-Control")
                .map(str::to_owned),
        };
        // Rocket runs the handler outside any span of ours; the save gets one, so its store
        // events carry the request's method (never an id or a cookie).
        let span = tracing::info_span!("session", method = %request.method());
        let finish = self
            .manager
            .finish_or_status(session, info)
            .instrument(span);
        let patch = match finish.await {
            Ok(patch) => patch,
            Err((status, patch)) => {
                *response = Response::build().status(Status::new(status)).finalize();
                patch
            }
        };
        for name in patch.replaced() {
            response.remove_header(name);
        }
        for (name, value) in patch.headers() {
            response.adjoin_raw_header(name.to_owned(), value.to_owned());
        }
    }
}
