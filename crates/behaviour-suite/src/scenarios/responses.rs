//! Response headers and 5xx handling.

use super::defaults;
use crate::contract::{HANDLER_CACHE_CONTROL, PLAIN, PUBLIC_CACHE_CONTROL};
use crate::{Harness, Spawn};

/// Changes made by a handler answering 5xx are dropped, and no cookie is sent.
pub async fn server_error_changes_are_not_saved(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    h.reset();
    h.get_as("/s/fail/b/2", &sid).await.assert_no_cookie(500);
    assert_eq!(h.calls().writes(), 0);
    assert_eq!(h.get_as("/s/get/b", &sid).await.body, "null");
    h.reset();
    h.get("/s/fail/a/1").await.assert_no_cookie(500);
    assert_eq!(h.calls().total(), 0);
}

/// `save_on_server_error` keeps changes made by a failing handler.
pub async fn save_on_server_error_opt_in_saves(spawn: Spawn) {
    let h = Harness::start(spawn, |b| b.save_on_server_error(true)).await;
    let answer = h.get("/s/fail/a/1").await;
    assert_eq!(answer.status, 500);
    let sid = answer.cookie_value();
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");
}

fn varies_on_cookie(answer: &crate::Answer) -> bool {
    answer.all("vary").iter().any(|v| {
        v.split(',')
            .any(|f| f.trim().eq_ignore_ascii_case("cookie"))
    })
}

/// A response setting the cookie says `Vary: Cookie` and keeps Set-Cookie out of caches.
pub async fn set_cookie_comes_with_vary_and_no_cache(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let answer = h.get("/s/set/a/1").await;
    assert!(answer.session_cookie().is_some());
    assert!(varies_on_cookie(&answer), "{:?}", answer.headers);
    assert_eq!(
        answer.all("cache-control"),
        ["private, no-cache=\"Set-Cookie\""]
    );
}

/// A handler's `public` caching never reaches a response that sets a session cookie: the
/// shared-cache directives go, `private` comes, the rest of the handler's policy stays.
pub async fn public_cache_control_is_made_private_with_a_cookie(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let answer = h.get("/s/public/a/1").await;
    assert!(answer.session_cookie().is_some());
    assert!(varies_on_cookie(&answer));
    assert_eq!(answer.all("cache-control"), ["private, max-age=600"]);
}

/// A signed-in session's responses are `no-store`, even when nothing about the cookie
/// changes and the handler asked for public caching.
pub async fn signed_in_responses_are_no_store(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.get("/s/sign-in/alice").await.cookie_value();
    let answer = h.get_as("/s/read-public", &sid).await;
    answer.assert_no_cookie(200);
    assert_eq!(answer.body, "alice");
    assert_eq!(answer.all("cache-control"), ["no-store"]);
    let opted_out = Harness::start(spawn, |b| b.no_store_when_signed_in(false)).await;
    let sid = opted_out.get("/s/sign-in/alice").await.cookie_value();
    let answer = opted_out.get_as("/s/read-public", &sid).await;
    assert_eq!(answer.all("cache-control"), [PUBLIC_CACHE_CONTROL]);
}

/// A logout in a handler that answers 500 still deletes the record and expires the cookie.
pub async fn destroy_in_a_failing_handler_still_logs_out(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.get("/s/sign-in/alice").await.cookie_value();
    let answer = h.get_as("/s/destroy-fail", &sid).await;
    assert_eq!(answer.status, 500);
    assert!(answer.expires_cookie(), "{:?}", answer.headers);
    assert_eq!(h.get_as("/s/user", &sid).await.body, "");
}

/// A handler's own Cache-Control is kept, alone.
pub async fn handler_cache_control_is_kept(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let answer = h.get("/s/cached/a/1").await;
    assert!(answer.session_cookie().is_some());
    assert!(varies_on_cookie(&answer));
    assert_eq!(answer.all("cache-control"), [HANDLER_CACHE_CONTROL]);
}

/// Without a cookie change, the session adds no header at all.
pub async fn unchanged_session_adds_no_headers(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    for answer in [h.get_as("/s/get/a", &sid).await, h.get(PLAIN).await] {
        answer.assert_no_cookie(200);
        assert!(answer.all("vary").is_empty(), "{:?}", answer.headers);
        assert!(
            answer.all("cache-control").is_empty(),
            "{:?}",
            answer.headers
        );
    }
}

/// The cookie carries the safe defaults (Secure is off for these plain-http tests).
pub async fn default_cookie_attributes(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let cookie = h
        .get("/s/set/a/1")
        .await
        .session_cookie()
        .expect("a cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(cookie::SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.domain(), None);
    assert_ne!(cookie.secure(), Some(true));
}
