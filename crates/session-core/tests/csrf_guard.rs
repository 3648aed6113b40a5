//! The CSRF guard through the manager: an unsafe cross-site request may not use the
//! session (403, nothing saved), whatever its handler does; everything else is untouched.

mod common;

use common::harness;
use session_core::{
    CsrfGuard, SessionError,
    adapter::{RequestInfo, ResponseInfo},
};

fn post_from(origin: Option<&'static str>, site: Option<&'static str>) -> RequestInfo<'static> {
    RequestInfo {
        method: "POST",
        host: Some(b"app.example"),
        origin: origin.map(str::as_bytes),
        sec_fetch_site: site.map(str::as_bytes),
    }
}

#[tokio::test]
async fn a_cross_site_login_is_refused_and_nothing_is_stored() {
    let h = harness(|b| b);
    for request in [
        post_from(Some("https://evil.example"), Some("cross-site")),
        post_from(None, Some("cross-site")),
        post_from(Some("null"), None),
    ] {
        let session = h.manager.start_request([], [], &request);
        let refused = session.set_user("victim").await;
        assert!(
            matches!(refused, Err(SessionError::CsrfRefused(_))),
            "{refused:?}"
        );
        assert!(session.user().await.is_err());
        let failure = h
            .manager
            .finish(&session, ResponseInfo::status(200))
            .await
            .expect_err("a refused session turns the answer into an error");
        assert_eq!(failure.status_code(), 403);
        assert!(
            failure.headers.set_cookie().is_none(),
            "no cookie for a refused login"
        );
    }
    assert!(h.store.inner().is_empty(), "nothing was stored");
}

#[tokio::test]
async fn a_handler_that_ignores_the_refusal_still_answers_403() {
    let h = harness(|b| b);
    let session = h
        .manager
        .start_request([], [], &post_from(Some("https://evil.example"), None));
    let _ = session.insert("cart", ["stolen"]).await;
    let _ = session.destroy().await;
    let failure = h
        .manager
        .finish(&session, ResponseInfo::status(200))
        .await
        .expect_err("403");
    assert_eq!(failure.status_code(), 403);
    assert!(h.store.inner().is_empty());
}

#[tokio::test]
async fn same_origin_safe_headerless_untouched_and_allowed_requests_pass() {
    let h = harness(|b| b.csrf_guard(CsrfGuard::default().allow_origin("https://front.example")));
    let passing = [
        post_from(Some("https://app.example"), Some("same-origin")),
        post_from(None, None),
        post_from(Some("https://front.example"), Some("cross-site")),
        RequestInfo {
            method: "GET",
            ..post_from(Some("https://evil.example"), Some("cross-site"))
        },
    ];
    for request in passing {
        let session = h.manager.start_request([], [], &request);
        session.insert("n", 1).await.expect("insert");
        let patch = h
            .manager
            .finish(&session, ResponseInfo::status(200))
            .await
            .expect("saved");
        assert!(patch.set_cookie().is_some(), "{request:?}");
    }
    // A refused request whose handler never touches the session is answered as usual.
    let session = h.manager.start_request(
        [],
        [],
        &post_from(Some("https://evil.example"), Some("cross-site")),
    );
    let patch = h
        .manager
        .finish(&session, ResponseInfo::status(200))
        .await
        .expect("untouched");
    assert!(patch.set_cookie().is_none());
}

#[tokio::test]
async fn the_guard_can_be_switched_off() {
    let h = harness(|b| b.csrf_guard(CsrfGuard::off()));
    let session = h.manager.start_request(
        [],
        [],
        &post_from(Some("https://evil.example"), Some("cross-site")),
    );
    session.set_user("alice").await.expect("no guard");
    h.manager
        .finish(&session, ResponseInfo::status(200))
        .await
        .expect("saved");
    assert_eq!(h.store.inner().len(), 1);
}
