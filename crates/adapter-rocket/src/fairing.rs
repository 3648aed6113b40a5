//! The fairing: starts the session when a request arrives, finishes it on the response.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Status;
use rocket::{Data, Request, Response};
use session_core::{
    SessionManager,
    adapter::{RequestInfo, ResponseInfo},
};
use tracing::Instrument;

use crate::Slot;

/// Adds sessions to every request: `.attach(SessionFairing::new(manager))`.
///
/// Rocket drops request headers that are not UTF-8 before fairings run, so a `Cookie`
/// header holding such bytes is not seen at all (other Cookie headers still are).
#[derive(Clone, Debug)]
#[must_use]
pub struct SessionFairing {
    manager: SessionManager,
}

impl SessionFairing {
    /// Sessions driven by `manager`.
    pub fn new(manager: SessionManager) -> Self {
        Self { manager }
    }
}

#[rocket::async_trait]
impl Fairing for SessionFairing {
    fn info(&self) -> Info {
        Info {
            name: "Sessions",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _data: &mut Data<'_>) {
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
        request.local_cache(|| Slot(Some(session)));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(session) = &request.local_cache(|| Slot(None)).0 else {
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
