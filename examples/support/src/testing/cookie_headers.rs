//! Hostile `Cookie` headers — over 4 KiB, a hundred cookies, bytes that are not UTF-8 —
//! against any example binary: each gets a fresh session (or keeps a genuine one found
//! among the garbage), never a 5xx. Run them with [`cookie_header_tests!`](crate::cookie_header_tests).

use reqwest::Method;
use serde_json::json;

use super::attacks::send_with_cookie_header;
use super::{Answer, COOKIE_NAME, Client, Server};

/// A client holding a genuine session whose counter is at 2; returns its cookie value.
async fn genuine_session(server: &Server) -> String {
    let client = Client::new(server.base());
    client.post("/api/count").await.expect(200);
    client.post("/api/count").await.expect(200);
    client
        .cookie()
        .unwrap_or_else(|| panic!("no session cookie was issued"))
}

/// `POST /api/count` with `header`; asserts a fresh session was started: counter 1 and a
/// new session cookie, different from `not` (the genuine one), that works on its own.
async fn expect_fresh_session(server: &Server, header: &[u8], not: &str, what: &str) {
    let answer = count_with(server, header).await;
    assert_eq!(answer.json(), json!({"count": 1}), "{what}");
    let issued = answer
        .session_cookie()
        .unwrap_or_else(|| panic!("{what}: no fresh session cookie"));
    assert_ne!(issued.value(), not, "{what}: the old session was reused");
    let fresh = Client::new(server.base());
    fresh.set_cookie(Some(issued.value().to_owned()));
    assert_eq!(
        fresh.get("/api/me").await.expect(200).json()["count"],
        json!(1),
        "{what}: the fresh session works"
    );
}

/// `POST /api/count` with `header` as the Cookie header; asserts a 200 (never a 5xx).
async fn count_with(server: &Server, header: &[u8]) -> Answer {
    let answer = send_with_cookie_header(server.base(), Method::POST, "/api/count", header).await;
    assert!(
        answer.status < 500,
        "{}: {} {:?}",
        answer.what,
        answer.status,
        answer.body
    );
    answer.expect(200);
    answer
}

/// Over 4 KiB of cookies: an oversized session cookie is ignored, and so is a genuine one
/// placed beyond the 8 KiB the manager scans.
pub async fn huge_cookie_headers_get_a_fresh_session(server: &Server) {
    let genuine = genuine_session(server).await;
    let padding = format!("pad={}", "p".repeat(4500));
    let oversized = format!("{COOKIE_NAME}={}", "A".repeat(4200));
    assert!((4 * 1024..8 * 1024).contains(&oversized.len()));
    expect_fresh_session(server, oversized.as_bytes(), &genuine, "oversized value").await;

    let beyond_budget = format!(
        "{padding}; more={}; {COOKIE_NAME}={genuine}",
        "m".repeat(4500)
    );
    expect_fresh_session(
        server,
        beyond_budget.as_bytes(),
        &genuine,
        "genuine cookie beyond the scanned 8 KiB",
    )
    .await;

    // Within the budget, a 4 KiB+ header still finds the genuine cookie.
    let within = format!("{padding}; {COOKIE_NAME}={genuine}");
    assert!(within.len() > 4 * 1024);
    assert_eq!(
        count_with(server, within.as_bytes()).await.json(),
        json!({"count": 3}),
        "a genuine cookie after 4.5 KiB of others"
    );
}

/// A hundred cookies in one header: a hundred strangers around a forged session cookie,
/// and a hundred session cookies (only the first few are even tried).
pub async fn a_hundred_cookies_get_a_fresh_session(server: &Server) {
    let genuine = genuine_session(server).await;
    let strangers: Vec<String> = (0..99).map(|i| format!("c{i}=v{i}")).collect();
    let crowd = format!("{}; {COOKIE_NAME}=forged.value", strangers.join("; "));
    expect_fresh_session(
        server,
        crowd.as_bytes(),
        &genuine,
        "99 cookies + a forged one",
    )
    .await;

    let mut same_name: Vec<String> = (0..99).map(|i| format!("{COOKIE_NAME}=bad{i}")).collect();
    same_name.push(format!("{COOKIE_NAME}={genuine}"));
    expect_fresh_session(
        server,
        same_name.join("; ").as_bytes(),
        &genuine,
        "99 bad session cookies before the genuine one",
    )
    .await;
}

/// Bytes that are not UTF-8 (obs-text) in names and values: a fresh session.
pub async fn non_utf8_cookie_bytes_get_a_fresh_session(server: &Server) {
    let genuine = genuine_session(server).await;
    let garbage: &[u8] = b"sid=\xff\xfe\xfd; \xc3\x28=\xa0\xa1; x=\xf0\x28\x8c\x28";
    expect_fresh_session(server, garbage, &genuine, "non-UTF-8 session cookie").await;
}

/// A genuine session cookie beside non-UTF-8 neighbours in the same header is still
/// found. Not for Rocket, which drops a request header that is not UTF-8 before any
/// fairing sees it (see adapter-rocket), so there the request gets a fresh session.
pub async fn a_genuine_cookie_beside_non_utf8_bytes_is_found(server: &Server) {
    let genuine = genuine_session(server).await;
    let mut beside = b"\xff\xfe=\x80; x=\xc3\x28; ".to_vec();
    beside.extend_from_slice(format!("{COOKIE_NAME}={genuine}").as_bytes());
    assert_eq!(
        count_with(server, &beside).await.json(),
        json!({"count": 3}),
        "a genuine cookie beside non-UTF-8 neighbours"
    );
}

/// Expands to one `#[tokio::test]` per [`cookie_headers`](self) scenario that every
/// framework passes, plus the extra scenarios named after `$bin`, each against a fresh
/// process of `$bin` on the memory store.
#[macro_export]
macro_rules! cookie_header_tests {
    ($bin:expr $(, $extra:ident)* $(,)?) => {
        $crate::__cookie_header_cases!(
            $bin,
            huge_cookie_headers_get_a_fresh_session,
            a_hundred_cookies_get_a_fresh_session,
            non_utf8_cookie_bytes_get_a_fresh_session,
            $($extra,)*
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __cookie_header_cases {
    ($bin:expr, $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let server =
                    $crate::testing::Server::start($bin, $crate::testing::Backend::Memory).await;
                $crate::testing::cookie_headers::$case(&server).await;
            }
        )*
    };
}
