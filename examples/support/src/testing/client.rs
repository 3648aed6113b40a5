//! An HTTP client that keeps the session cookie by hand, and the answers it gets.

use std::sync::{Arc, Mutex};

use cookie::Cookie;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, redirect};
use serde_json::Value;

/// The examples' cookie name (plain-http development settings).
pub const COOKIE_NAME: &str = "sid";

/// One browser-like client: follows no redirects, sends back the session cookie it was
/// given, forgets it when the server expires it.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    name: Arc<str>,
    cookie: Arc<Mutex<Option<String>>>,
}

/// A request body.
enum Body<'a> {
    None,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
    Raw(&'a str, &'static str),
}

impl Client {
    /// A client of the server at `base` (`http://host:port`).
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("http client: {e}"));
        Self {
            http,
            base: base.to_owned(),
            name: Arc::from(COOKIE_NAME),
            cookie: Arc::default(),
        }
    }

    /// A client of the server at `base` whose session cookie is called `name` (e.g.
    /// `connect.sid` in Express-compatible mode).
    pub fn named(base: &str, name: &str) -> Self {
        Self {
            name: Arc::from(name),
            ..Self::new(base)
        }
    }

    /// A client of `base` with a cookie jar of its own, holding a copy of this one's cookie.
    pub fn fork(&self, base: &str) -> Self {
        let fork = Self::named(base, &self.name);
        fork.set_cookie(self.cookie());
        fork
    }

    /// The same client (same cookie, shared) talking to another server.
    pub fn at(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    /// The session cookie value held.
    pub fn cookie(&self) -> Option<String> {
        self.jar().clone()
    }

    /// Replaces the session cookie value held.
    pub fn set_cookie(&self, value: Option<String>) {
        *self.jar() = value;
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.cookie.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, Body::None).await
    }
    /// `POST path` without a body.
    pub async fn post(&self, path: &str) -> Answer {
        self.send(Method::POST, path, Body::None).await
    }
    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::POST, path, Body::Json(body)).await
    }
    /// `POST path` as an HTML form would.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.send(Method::POST, path, Body::Form(fields)).await
    }
    /// `POST path` with a raw body of `content_type`.
    pub async fn post_raw(&self, path: &str, body: &str, content_type: &'static str) -> Answer {
        self.send(Method::POST, path, Body::Raw(body, content_type))
            .await
    }
    /// `PUT path` with a JSON body.
    pub async fn put_json(&self, path: &str, body: &Value) -> Answer {
        self.send(Method::PUT, path, Body::Json(body)).await
    }
    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, Body::None).await
    }

    /// `POST path` as an HTML form would, with extra `headers` (say, the `Origin` and
    /// `Sec-Fetch-Site` a browser sends when another site posts the form).
    pub async fn post_form_with(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        self.send_with(Method::POST, path, Body::Form(fields), headers)
            .await
    }

    async fn send(&self, method: Method, path: &str, body: Body<'_>) -> Answer {
        self.send_with(method, path, body, &[]).await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let what = format!("{method} {}{path}", self.base);
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(value) = self.cookie() {
            request = request.header(COOKIE, format!("{}={value}", self.name));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request = match body {
            Body::None => request,
            Body::Json(v) => request.json(v),
            Body::Form(fields) => {
                let encoded = serde_urlencoded::to_string(fields)
                    .unwrap_or_else(|e| panic!("encoding a form: {e}"));
                request
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(encoded)
            }
            Body::Raw(text, content_type) => request
                .header(CONTENT_TYPE, content_type)
                .body(text.to_owned()),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        let answer = Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response
                .text()
                .await
                .unwrap_or_else(|e| panic!("{what}: unreadable body: {e}")),
            what,
        };
        if let Some(cookie) = answer.cookie_named(&self.name) {
            let expired = cookie.value().is_empty()
                || cookie
                    .max_age()
                    .is_some_and(|age| age.is_zero() || age.is_negative());
            self.set_cookie((!expired).then(|| cookie.value().to_owned()));
        }
        answer
    }
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Answer {
    /// `METHOD url`, for messages.
    pub what: String,
    /// The status code.
    pub status: u16,
    /// Every header.
    pub headers: HeaderMap,
    /// The body.
    pub body: String,
}

impl Answer {
    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "{}: status {} (body {:?})",
            self.what, self.status, self.body
        );
        self
    }

    /// The body as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {:?}", self.what, self.body))
    }

    /// The session `Set-Cookie`, if any.
    pub fn session_cookie(&self) -> Option<Cookie<'static>> {
        self.cookie_named(COOKIE_NAME)
    }

    /// The `Set-Cookie` of cookie `name`, if any.
    pub fn cookie_named(&self, name: &str) -> Option<Cookie<'static>> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Cookie::parse(v.to_owned()).ok())
            .find(|c| c.name() == name)
    }

    /// Asserts that no session cookie was set.
    #[track_caller]
    pub fn expect_no_cookie(&self) -> &Self {
        assert!(
            self.session_cookie().is_none(),
            "{}: unexpected Set-Cookie {:?}",
            self.what,
            self.session_cookie()
        );
        self
    }

    /// Asserts a `303 See Other` to `/`.
    #[track_caller]
    pub fn expect_redirect_home(&self) -> &Self {
        self.expect(303);
        let location = self.headers.get(LOCATION).and_then(|v| v.to_str().ok());
        assert_eq!(location, Some("/"), "{}: Location", self.what);
        self
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
