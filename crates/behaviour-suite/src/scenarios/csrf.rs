//! The CSRF guard (issue 12): an unsafe request from another site may not use the
//! session, whichever framework serves it.

use session_core::CsrfGuard;

use super::defaults;
use crate::{Harness, Spawn};

const EVIL: &str = "https://evil.example";

/// A login form posted from another site (the login CSRF of the example's old form) is a
/// 403: no session, no cookie, no store write.
pub async fn cross_site_login_post_is_403_and_stores_nothing(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    for headers in [
        &[("Origin", EVIL), ("Sec-Fetch-Site", "cross-site")][..],
        &[("Sec-Fetch-Site", "cross-site")][..],
        &[("Origin", EVIL)][..],
        &[("Origin", "null")][..],
    ] {
        let answer = h.send("POST", "/s/login/mallory", None, headers).await;
        answer.assert_no_cookie(403);
    }
    let calls = h.calls();
    assert_eq!(calls.writes(), 0, "{calls:?}");
    assert!(h.store.inner().is_empty());
}

/// PUT, PATCH and DELETE from another site cannot change a victim's session either, and
/// nothing the handler did is saved.
pub async fn cross_site_unsafe_methods_never_change_the_session(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let victim = h.new_session("a", "1").await;
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let headers = [("Origin", EVIL), ("Sec-Fetch-Site", "cross-site")];
        let answer = h.send(method, "/s/set/a/2", Some(&victim), &headers).await;
        assert_eq!(answer.status, 403, "{method}");
        let answer = h.send(method, "/s/destroy", Some(&victim), &headers).await;
        assert_eq!(answer.status, 403, "{method}");
    }
    assert_eq!(h.get_as("/s/get/a", &victim).await.body, "\"1\"");
}

/// Same-origin posts, posts without either header (curl, servers), cross-site GETs and
/// cross-site posts to routes that never touch the session all pass.
pub async fn same_origin_headerless_safe_and_sessionless_requests_pass(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let own = h.origin().to_owned();
    let same_origin = [("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")];
    let answer = h.send("POST", "/s/login/alice", None, &same_origin).await;
    assert_eq!(answer.status, 200);
    let alice = answer.cookie_value();
    assert_eq!(h.get_as("/s/user", &alice).await.body, "alice");
    let answer = h.send("POST", "/s/set/a/1", Some(&alice), &[]).await;
    assert_eq!(answer.status, 200);
    let cross = [("Origin", EVIL), ("Sec-Fetch-Site", "cross-site")];
    let answer = h.send("GET", "/s/get/a", Some(&alice), &cross).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "\"1\""));
    let answer = h
        .send("POST", crate::contract::PLAIN, Some(&alice), &cross)
        .await;
    assert_eq!(answer.status, 200);
}

/// An allowed origin (a separate front-end) passes; with the guard off everything does.
pub async fn allowed_origins_pass_and_the_guard_switches_off(spawn: Spawn) {
    let front = "https://front.example";
    let allowed = Harness::start(spawn, |b| {
        b.csrf_guard(CsrfGuard::default().allow_origin(front))
    })
    .await;
    let headers = [("Origin", front), ("Sec-Fetch-Site", "cross-site")];
    let answer = allowed.send("POST", "/s/set/a/1", None, &headers).await;
    assert_eq!(answer.status, 200);
    let evil = [("Origin", EVIL), ("Sec-Fetch-Site", "cross-site")];
    let answer = allowed.send("POST", "/s/set/a/1", None, &evil).await;
    assert_eq!(answer.status, 403);

    let off = Harness::start(spawn, |b| b.csrf_guard(CsrfGuard::off())).await;
    let answer = off.send("POST", "/s/set/a/1", None, &evil).await;
    assert_eq!(answer.status, 200);
}
