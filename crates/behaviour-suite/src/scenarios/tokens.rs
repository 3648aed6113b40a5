//! The header transport: a session carried as a token in a request header.

use session_core::Transport;

use super::flip;
use crate::{COOKIE_NAME, Harness, Spawn};

fn header_only(builder: session_core::SessionConfigBuilder) -> session_core::SessionConfigBuilder {
    builder.transport(Transport::Header)
}

fn either(builder: session_core::SessionConfigBuilder) -> session_core::SessionConfigBuilder {
    builder.transport(Transport::CookieOrHeader)
}

/// Header mode: a first write answers with a token (never a cookie, never cacheable), the
/// token carries the session, a cookie of the same value is ignored, and an untouched
/// request costs no store call.
pub async fn header_token_carries_the_session_without_cookies(spawn: Spawn) {
    let h = Harness::start(spawn, header_only).await;
    let first = h.get("/s/set/a/1").await;
    first.assert_no_cookie(200);
    let token = first.token_value();
    assert_eq!(first.all("cache-control"), ["no-store"]);
    assert_eq!(first.all("vary"), ["authorization"]);
    assert_eq!(h.get_bearer("/s/get/a", &token).await.body, "\"1\"");
    let as_cookie = h.get_as("/s/get/a", &token).await;
    assert_eq!(as_cookie.body, "null", "header mode reads no cookie");
    as_cookie.assert_no_cookie(200);
    h.reset();
    let plain = h.get_bearer("/plain", &token).await;
    assert_eq!(plain.status, 200);
    assert_eq!((h.calls().total(), plain.token()), (0, None));
    let read = h.get_bearer("/s/get/a", &token).await;
    assert_eq!((h.calls().load, h.calls().writes()), (1, 0));
    assert_eq!(read.token(), None, "an unchanged session sends no token");
}

/// Header mode: login rotates the token (the old one stops working), destroy answers an
/// empty token header (drop it), and a dead token is told to be dropped too.
pub async fn header_tokens_rotate_and_are_dropped(spawn: Spawn) {
    let h = Harness::start(spawn, header_only).await;
    let anonymous = h.get("/s/set/cart/3").await.token_value();
    let signed_in = h
        .get_bearer("/s/sign-in/alice", &anonymous)
        .await
        .token_value();
    assert_ne!(signed_in, anonymous);
    assert_eq!(h.get_bearer("/s/user", &signed_in).await.body, "alice");
    assert_eq!(h.get_bearer("/s/get/cart", &signed_in).await.body, "\"3\"");
    let old = h.get_bearer("/s/user", &anonymous).await;
    assert_eq!((old.body.as_str(), old.token().as_deref()), ("", Some("")));
    let logout = h.get_bearer("/s/destroy", &signed_in).await;
    assert_eq!(
        logout.token().as_deref(),
        Some(""),
        "destroy drops the token"
    );
    logout.assert_no_cookie(200);
    assert!(!h.stored(&signed_in).await);
    assert_eq!(h.get_bearer("/s/user", &signed_in).await.body, "");
}

/// Forged tokens, other schemes and ambiguous headers never reach the store; a garbled
/// header is never a 500.
pub async fn bad_tokens_never_reach_the_store(spawn: Spawn) {
    let h = Harness::start(spawn, header_only).await;
    let token = h.get("/s/set/a/1").await.token_value();
    h.reset();
    let forged = flip(&token, token.len() - 3);
    assert_eq!(h.get_bearer("/s/get/a", &forged).await.body, "null");
    let basic = format!("Basic {token}");
    let two = format!("Bearer {token}");
    for headers in [
        vec![("authorization", basic.as_bytes())],
        vec![
            ("authorization", two.as_bytes()),
            ("authorization", two.as_bytes()),
        ],
        vec![("authorization", b"Bearer \xff\xfe".as_slice())],
        vec![("authorization", b"Bearer".as_slice())],
    ] {
        let answer = h.get_with_headers("/s/get/a", &headers).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "null"),
            "{headers:?}"
        );
    }
    assert_eq!(h.calls().total(), 0, "{:?}", h.calls());
}

/// Either mode: a new session goes out both ways; a token wins over a cookie and is
/// answered by header only; a cookie alone is answered by cookie only.
pub async fn either_transport_answers_the_way_the_session_came(spawn: Spawn) {
    let h = Harness::start(spawn, either).await;
    let first = h.get("/s/set/who/api").await;
    let (token, cookie) = (first.token_value(), first.cookie_value());
    assert_eq!(token, cookie, "one session, issued both ways");
    let browser = h.get("/s/set/who/browser").await.cookie_value();
    let both = format!("{COOKIE_NAME}={browser}");
    let bearer = format!("Bearer {token}");
    let mixed = [
        ("cookie", both.as_bytes()),
        ("authorization", bearer.as_bytes()),
    ];
    assert_eq!(
        h.get_with_headers("/s/get/who", &mixed).await.body,
        "\"api\""
    );
    let rotated = h.get_with_headers("/s/regenerate", &mixed).await;
    rotated.assert_no_cookie(200);
    let api = rotated.token_value();
    assert_eq!(h.get_bearer("/s/get/who", &api).await.body, "\"api\"");
    let by_cookie = h.get_as("/s/regenerate", &browser).await;
    assert_eq!(
        by_cookie.token(),
        None,
        "a cookie request gets no token header"
    );
    let browser = by_cookie.cookie_value();
    assert_eq!(h.get_as("/s/get/who", &browser).await.body, "\"browser\"");
    assert_eq!(by_cookie.all("vary"), ["Cookie, authorization"]);
}

/// A configured header carries the bare token, answered in the configured response header.
pub async fn custom_token_headers_carry_the_bare_token(spawn: Spawn) {
    let h = Harness::start(spawn, |b| {
        header_only(b).token_headers("X-Session", "X-Session-New")
    })
    .await;
    let first = h.get("/s/set/a/1").await;
    assert_eq!(first.token(), None, "not in the default header");
    let token = first
        .all("x-session-new")
        .pop()
        .expect("the configured header");
    let read = h
        .get_with_headers("/s/get/a", &[("x-session", token.as_bytes())])
        .await;
    assert_eq!(read.body, "\"1\"");
    assert_eq!(h.get_bearer("/s/get/a", &token).await.body, "null");
}
