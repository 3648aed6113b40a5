//! Tools for the attack, corrupt-data and size tests: an example binary started with extra
//! environment (trace logging, short timeouts) whose key the test knows, cookies forged
//! with that key, tampered cookies, and requests carrying a raw `Cookie` header of
//! arbitrary bytes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use reqwest::header::{COOKIE, HeaderValue};
use session_core::{
    CookieMode, Key,
    test_suite::{CookieCodec, SessionId},
};

use super::{Answer, COOKIE_NAME, Server, temp_path, test_key};

/// An example process started with extra environment variables, on its own key.
///
/// Its log is what the binary writes to stderr, which is all it writes: the logger
/// (`telemetry.rs`) and start-up errors go to stderr, nothing is printed to stdout.
pub struct Tuned {
    server: Server,
    keys: String,
    files: Vec<PathBuf>,
}

impl Tuned {
    /// Starts `bin` on `store_url` with `env` added (it may override `RUST_LOG`); `Err`
    /// (with the log) when it does not come up.
    pub async fn spawn(bin: &str, store_url: &str, env: &[(&str, &str)]) -> Result<Self, String> {
        let keys = test_key();
        Ok(Self {
            server: Server::spawn_with(bin, store_url, &keys, env).await?,
            keys,
            files: Vec::new(),
        })
    }

    /// Starts `bin` on a fresh SQLite file (deleted on drop) with `env` added; panics when
    /// it does not come up.
    pub async fn sqlite(bin: &str, env: &[(&str, &str)]) -> Self {
        let path = temp_path("db");
        let url = format!("sqlite://{}", path.display());
        let mut tuned = Self::spawn(bin, &url, env)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tuned.files = ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
            .collect();
        tuned
    }

    /// The SQLite file of a server made by [`Tuned::sqlite`].
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.files.first().map(PathBuf::as_path)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> &str {
        self.server.base()
    }

    /// Everything the process has logged so far.
    pub fn log_text(&self) -> String {
        self.server.log_text()
    }

    /// Whether the process is still running (it did not panic its way out).
    pub fn is_running(&mut self) -> bool {
        self.server.is_running()
    }

    /// A cookie value the server accepts as genuine for `id`: signed with its own key.
    pub fn forge(&self, id: &SessionId) -> String {
        let key = Key::from_base64(&self.keys).unwrap_or_else(|e| panic!("test key: {e}"));
        CookieCodec::new(COOKIE_NAME, CookieMode::Signed, vec![key])
            .unwrap_or_else(|e| panic!("codec: {e}"))
            .encode(id)
    }
}

impl Drop for Tuned {
    fn drop(&mut self) {
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The id part of a signed cookie value (`<id>.<tag>`).
pub fn id_of(cookie: &str) -> &str {
    cookie.split_once('.').map_or(cookie, |(id, _)| id)
}

/// `cookie` with the last bit of its 32-byte HMAC tag flipped: a near miss that a
/// byte-by-byte early-exit comparison would only catch at the very end.
pub fn flip_last_tag_bit(cookie: &str) -> String {
    let (id, tag) = cookie
        .split_once('.')
        .unwrap_or_else(|| panic!("not a signed cookie: {cookie:?}"));
    let mut raw = URL_SAFE_NO_PAD
        .decode(tag)
        .unwrap_or_else(|e| panic!("tag is not base64url: {e}"));
    if let Some(last) = raw.last_mut() {
        *last ^= 1;
    }
    format!("{id}.{}", URL_SAFE_NO_PAD.encode(raw))
}

/// `cookie` with one character of its id changed (the tag kept).
pub fn alter_id(cookie: &str) -> String {
    let mut chars: Vec<char> = cookie.chars().collect();
    chars[0] = if chars[0] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// Cookie values that must never open a session: tampered, forged under another key,
/// unsigned, or not the codec's shape at all. `genuine` is a cookie the server issued.
pub fn bad_cookies(genuine: &str) -> Vec<(&'static str, String)> {
    let other_key = CookieCodec::new(COOKIE_NAME, CookieMode::Signed, vec![Key::generate()])
        .unwrap_or_else(|e| panic!("codec: {e}"));
    let id = id_of(genuine).to_owned();
    vec![
        ("last tag bit flipped", flip_last_tag_bit(genuine)),
        ("one id character changed", alter_id(genuine)),
        (
            "the same id signed by another key",
            other_key.encode(&SessionId::parse(&id).unwrap_or_else(|| panic!("id {id:?}"))),
        ),
        ("the bare id, unsigned", id.clone()),
        ("the id with an empty tag", format!("{id}.")),
        ("a client-chosen word", "attacker-chosen-session".to_owned()),
    ]
}

/// `method path` with exactly `cookie_header` (any bytes a header may carry) as the
/// `Cookie` header, and no cookie handling.
pub async fn send_with_cookie_header(
    base: &str,
    method: Method,
    path: &str,
    cookie_header: &[u8],
) -> Answer {
    let what = format!("{method} {base}{path} with a raw Cookie header");
    let value = HeaderValue::from_bytes(cookie_header)
        .unwrap_or_else(|e| panic!("{what}: not a header value: {e}"));
    let response = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("http client: {e}"))
        .request(method, format!("{base}{path}"))
        .header(COOKIE, value)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{what}: unreadable body: {e}")),
        what,
    }
}
