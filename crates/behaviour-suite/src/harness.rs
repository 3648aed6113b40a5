//! What scenarios drive: a server spawned by the adapter under test over a probed memory
//! store, and a cookie-less HTTP client whose Cookie headers are spelled out by hand.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use cookie::Cookie;
use reqwest::header::{COOKIE, HeaderMap, HeaderValue};
use session_core::test_suite::{Calls, ProbeStore};
use session_core::{
    Key, MemoryStore, SessionConfig, SessionConfigBuilder, SessionManager,
    store::SessionStore,
    test_suite::{CookieCodec, SessionId},
};

/// The cookie name every scenario configures.
pub const COOKIE_NAME: &str = "sid";

/// The response header the header transport sends new tokens in (the default).
pub const TOKEN_RESPONSE_HEADER: &str = session_core::DEFAULT_TOKEN_RESPONSE_HEADER;

/// A running test server; dropping it stops the server.
pub struct TestServer {
    addr: SocketAddr,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl TestServer {
    /// A server listening on `addr`; `stop` is called on drop.
    pub fn new(addr: SocketAddr, stop: impl FnOnce() + Send + 'static) -> Self {
        Self {
            addr,
            stop: Some(Box::new(stop)),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// What an adapter's test supplies: serve the contract on 127.0.0.1 with the first manager
/// (unmarked: `/s/` routes) and, when given, the second one under the marker
/// [`Second`](crate::contract::Second) (`/m/` and `/both/` routes).
pub type SpawnFuture = Pin<Box<dyn Future<Output = TestServer>>>;
/// See [`SpawnFuture`].
pub type Spawn = fn(SessionManager, Option<SessionManager>) -> SpawnFuture;

/// The cookie name of the second manager in scenarios that run two.
pub const SECOND_COOKIE_NAME: &str = "admin";

/// One scenario's server, store and client.
pub struct Harness {
    /// The probed store behind the server's manager.
    pub store: ProbeStore<MemoryStore>,
    /// The manager the server uses.
    pub manager: SessionManager,
    /// The second manager and its own store, in scenarios that run two.
    pub second: Option<(ProbeStore<MemoryStore>, SessionManager)>,
    client: reqwest::Client,
    base: String,
    _server: TestServer,
}

impl Harness {
    /// A server with a fresh random key, plain-http cookies named [`COOKIE_NAME`], and
    /// the defaults changed by `configure`.
    pub async fn start(
        spawn: Spawn,
        configure: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
    ) -> Self {
        Self::with_keys(spawn, vec![Key::generate()], configure).await
    }

    /// Like [`start`](Self::start) with these keys (the first signs).
    pub async fn with_keys(
        spawn: Spawn,
        keys: Vec<Key>,
        configure: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
    ) -> Self {
        let (store, manager) = probed(keys, COOKIE_NAME, configure);
        Self::serve(spawn, store, manager, None).await
    }

    /// Two managers on one app, each with its own key and store: the first as
    /// [`start`](Self::start) makes it, the second with cookie name
    /// [`SECOND_COOKIE_NAME`] and the defaults changed by `configure_second`.
    pub async fn pair(
        spawn: Spawn,
        configure: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
        configure_second: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
    ) -> Self {
        let (store, manager) = probed(vec![Key::generate()], COOKIE_NAME, configure);
        let second = probed(vec![Key::generate()], SECOND_COOKIE_NAME, configure_second);
        Self::serve(spawn, store, manager, Some(second)).await
    }

    async fn serve(
        spawn: Spawn,
        store: ProbeStore<MemoryStore>,
        manager: SessionManager,
        second: Option<(ProbeStore<MemoryStore>, SessionManager)>,
    ) -> Self {
        let second_manager = second.as_ref().map(|(_, manager)| manager.clone());
        let server = spawn(manager.clone(), second_manager).await;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self {
            store,
            manager,
            second,
            client,
            base: format!("http://{}", server.addr()),
            _server: server,
        }
    }

    /// A request without cookies.
    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await
    }

    /// A request carrying the session cookie `value`.
    pub async fn get_as(&self, path: &str, value: &str) -> Answer {
        self.get_with(path, &[format!("{COOKIE_NAME}={value}").as_bytes()])
            .await
    }

    /// A request with one `Cookie` header per entry, bytes as given.
    pub async fn get_with(&self, path: &str, cookie_headers: &[&[u8]]) -> Answer {
        let headers: Vec<(&str, &[u8])> = cookie_headers.iter().map(|c| ("cookie", *c)).collect();
        self.get_with_headers(path, &headers).await
    }

    /// A request carrying `Authorization: Bearer <token>`.
    pub async fn get_bearer(&self, path: &str, token: &str) -> Answer {
        let value = format!("Bearer {token}");
        self.get_with_headers(path, &[("authorization", value.as_bytes())])
            .await
    }

    /// A request with these headers, in order, bytes as given.
    pub async fn get_with_headers(&self, path: &str, headers: &[(&str, &[u8])]) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, raw) in headers {
            let value = HeaderValue::from_bytes(raw).expect("header bytes are sendable");
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("the test server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("a readable body");
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The server's own origin, `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> &str {
        &self.base
    }

    /// A request with `method`, carrying the session cookie `value` if given and the
    /// extra `headers` (such as `Origin` and `Sec-Fetch-Site`).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(value) = cookie {
            request = request.header(COOKIE, format!("{COOKIE_NAME}={value}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the test server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("a readable body");
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Starts a session holding `key = value` and returns its cookie value.
    pub async fn new_session(&self, key: &str, value: &str) -> String {
        let answer = self.get(&format!("/s/set/{key}/{value}")).await;
        assert_eq!(answer.status, 200, "creating a session");
        answer.cookie_value()
    }

    /// Store calls since the last [`reset`](Self::reset).
    pub fn calls(&self) -> Calls {
        self.store.calls()
    }

    /// Zeroes the store call counters.
    pub fn reset(&self) {
        self.store.reset();
    }

    /// The server's codec, for forging cookies.
    pub fn codec(&self) -> &CookieCodec {
        self.manager.config().codec()
    }

    /// Whether the store holds a live record for the session in signed cookie `value`.
    pub async fn stored(&self, value: &str) -> bool {
        let id = signed_id(value);
        let record = self.store.inner().load(&id.store_key()).await;
        record.expect("memory store loads").is_some()
    }
}

/// A manager over a fresh probed memory store: `keys`, plain-http cookies named `name`,
/// and the defaults changed by `configure`.
fn probed(
    keys: Vec<Key>,
    name: &str,
    configure: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
) -> (ProbeStore<MemoryStore>, SessionManager) {
    let builder = SessionConfig::builder(keys).secure(false).cookie_name(name);
    let config = configure(builder)
        .build()
        .expect("scenario config is valid");
    let store = ProbeStore::new(MemoryStore::default());
    let manager = SessionManager::new(store.clone(), config);
    (store, manager)
}

/// The session id carried by a signed-mode cookie value.
pub fn signed_id(value: &str) -> SessionId {
    let (text, _) = value.split_once('.').expect("a signed cookie value");
    SessionId::parse(text).expect("a session id")
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// All headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: String,
}

impl Answer {
    /// Every value of header `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    /// The `Set-Cookie` for the session cookie, if any; fails on more than one.
    pub fn session_cookie(&self) -> Option<Cookie<'static>> {
        self.cookie_named(COOKIE_NAME)
    }

    /// The `Set-Cookie` for cookie `name`, if any; fails on more than one.
    pub fn cookie_named(&self, name: &str) -> Option<Cookie<'static>> {
        let mut found: Vec<Cookie<'static>> = self
            .all("set-cookie")
            .into_iter()
            .filter_map(|v| Cookie::parse(v).ok())
            .filter(|c| c.name() == name)
            .collect();
        assert!(found.len() <= 1, "several {name} Set-Cookie: {found:?}");
        found.pop()
    }

    /// The value of the session cookie set; fails when none was set.
    pub fn cookie_value(&self) -> String {
        let cookie = self
            .session_cookie()
            .unwrap_or_else(|| panic!("expected a session Set-Cookie, got {:?}", self.headers));
        cookie.value().to_owned()
    }

    /// Whether the response expires the session cookie (empty value, `Max-Age=0`).
    pub fn expires_cookie(&self) -> bool {
        self.session_cookie().is_some_and(|c| {
            c.value().is_empty() && c.max_age() == Some(cookie::time::Duration::ZERO)
        })
    }

    /// The `session-token` response header, if the response has exactly one; fails on more.
    pub fn token(&self) -> Option<String> {
        let mut found = self.all(TOKEN_RESPONSE_HEADER);
        assert!(found.len() <= 1, "several token headers: {found:?}");
        found.pop()
    }

    /// The new token sent; fails when none (or an empty drop signal) was sent.
    pub fn token_value(&self) -> String {
        match self.token() {
            Some(token) if !token.is_empty() => token,
            other => panic!(
                "expected a new session token, got {other:?} in {:?}",
                self.headers
            ),
        }
    }

    /// Asserts the status and that no session cookie was set.
    pub fn assert_no_cookie(&self, status: u16) {
        assert_eq!(self.status, status, "status (body {:?})", self.body);
        assert!(
            self.session_cookie().is_none(),
            "unexpected Set-Cookie: {:?}",
            self.all("set-cookie")
        );
    }
}
