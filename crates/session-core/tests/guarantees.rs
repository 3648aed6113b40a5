//! The guarantees that must survive races and failures (issue 11): a rotation never
//! outlives a logout or revocation, a logout works whatever the status, logins rotate by
//! themselves, expiry cannot misfire, and no shared cache stores a session's response.

mod common;

use std::time::Duration;

use common::{Harness, OK, cookie_value, harness};
use session_core::{Session, SessionError, Timestamp, adapter::ResponseInfo, store::SessionStore};

/// A signed-in session of `user` holding `n = 1`; returns its cookie.
async fn signed_in(h: &Harness, user: &str) -> String {
    let patch = h
        .request(None, OK, async |s| {
            s.insert("n", 1).await.expect("insert");
            s.set_user(user).await.expect("set_user");
        })
        .await
        .expect("finish");
    cookie_value(&patch).expect("login sets a cookie")
}

fn start(h: &Harness, cookie: &str) -> Session {
    let header = format!("sid={cookie}");
    h.manager.start([header.as_bytes()])
}

fn expires_cookie(patch: &session_core::adapter::HeaderPatch) -> bool {
    patch
        .set_cookie()
        .is_some_and(|c| c.starts_with("sid=;") && c.contains("Max-Age=0"))
}

async fn live_sessions_of(h: &Harness, user: &str) -> usize {
    h.store
        .inner()
        .sessions_of(user, &session_core::PageRequest::default())
        .await
        .expect("sessions_of")
        .sessions
        .len()
}

// Item 1: rotation that cannot outlive a revocation.

#[tokio::test]
async fn regenerate_after_a_concurrent_destroy_creates_nothing() {
    let h = harness(|b| b);
    let cookie = signed_in(&h, "alice").await;
    let a = start(&h, &cookie);
    assert_eq!(a.get::<i32>("n").await.expect("load"), Some(1));
    let logout = h
        .request(Some(&cookie), OK, async |s| {
            s.destroy().await.expect("destroy")
        })
        .await
        .expect("logout");
    assert!(expires_cookie(&logout));
    a.regenerate().await.expect("regenerate");
    let patch = h.finish_ok(&a).await.expect("finish");
    assert!(
        expires_cookie(&patch),
        "the rotating request must drop its cookie"
    );
    assert!(h.store.inner().is_empty(), "no row may outlive the logout");
}

#[tokio::test]
async fn regenerate_after_revoke_other_sessions_creates_nothing() {
    let h = harness(|b| b);
    let stolen = signed_in(&h, "alice").await;
    let victim = signed_in(&h, "alice").await;
    let attacker = start(&h, &stolen);
    attacker.get::<i32>("n").await.expect("load");
    let revoked = h
        .request(Some(&victim), OK, async |s| {
            assert_eq!(s.revoke_other_sessions().await.expect("revoke"), 1);
        })
        .await
        .expect("revoke");
    assert!(
        revoked.set_cookie().is_none(),
        "the caller keeps its session"
    );
    attacker.regenerate().await.expect("regenerate");
    let patch = h.finish_ok(&attacker).await.expect("finish");
    assert!(expires_cookie(&patch));
    assert_eq!(live_sessions_of(&h, "alice").await, 1, "only the caller's");
    assert_eq!(h.store.inner().len(), 1);
}

#[tokio::test]
async fn a_login_in_flight_during_log_out_everywhere_does_not_survive_it() {
    let h = harness(|b| b);
    let victim = signed_in(&h, "alice").await;
    // Another client begins logging in as alice...
    let login = h.manager.start([]);
    login.insert("cart", 3).await.expect("insert");
    // ...alice signs out everywhere else meanwhile...
    tokio::time::sleep(Duration::from_millis(5)).await;
    h.request(Some(&victim), OK, async |s| {
        s.revoke_other_sessions().await.expect("revoke");
    })
    .await
    .expect("revoke");
    // ...then the login completes.
    login.set_user("alice").await.expect("set_user");
    let patch = h.finish_ok(&login).await.expect("finish");
    assert!(cookie_value(&patch).is_none_or(|c| c.is_empty()));
    assert_eq!(live_sessions_of(&h, "alice").await, 1);
}

#[tokio::test]
async fn regenerate_racing_clear_user_leaves_at_most_one_live_successor() {
    let h = harness(|b| b);
    let cookie = signed_in(&h, "alice").await;
    let (a, b) = h.two_requests(&cookie);
    a.get::<i32>("n").await.expect("load a");
    b.get::<i32>("n").await.expect("load b");
    b.clear_user().await.expect("clear_user");
    a.regenerate().await.expect("regenerate");
    let signed_out = h.finish_ok(&b).await.expect("finish b");
    let rotated = h.finish_ok(&a).await.expect("finish a");
    // The sign-out rotated first: the regenerating request's old id is gone, so it
    // creates nothing and drops its cookie; the survivor is the signed-out session.
    assert!(
        expires_cookie(&rotated),
        "regenerate after sign-out must not create"
    );
    let survivor = cookie_value(&signed_out).expect("sign-out rotates the id");
    assert_ne!(survivor, cookie);
    assert_eq!(h.store.inner().len(), 1);
    assert_eq!(live_sessions_of(&h, "alice").await, 0);
    h.request(Some(&survivor), OK, async |s| {
        assert_eq!(s.user().await.expect("user"), None);
        assert_eq!(s.get_value("n").await.expect("get"), None, "flushed");
    })
    .await
    .expect("finish");
}

// Item 3: destroy and revocations take effect whatever the response status.

#[tokio::test]
async fn destroy_in_a_handler_that_answers_500_still_logs_out() {
    let h = harness(|b| b);
    let cookie = signed_in(&h, "alice").await;
    let patch = h
        .request(Some(&cookie), 500, async |s| {
            s.destroy().await.expect("destroy")
        })
        .await
        .expect("finish");
    assert!(expires_cookie(&patch));
    assert!(h.store.inner().is_empty());
}

#[tokio::test]
async fn regenerate_in_a_handler_that_answers_500_ends_the_old_id_without_its_changes() {
    let h = harness(|b| b);
    let cookie = signed_in(&h, "alice").await;
    let patch = h
        .request(Some(&cookie), 500, async |s| {
            s.insert("n", 99).await.expect("insert");
            s.regenerate().await.expect("regenerate");
        })
        .await
        .expect("finish");
    let new = cookie_value(&patch).expect("a new id");
    assert_ne!(new, cookie);
    assert_eq!(h.store.inner().len(), 1);
    h.request(Some(&new), OK, async |s| {
        assert_eq!(
            s.get::<i32>("n").await.expect("get"),
            Some(1),
            "5xx data dropped"
        );
        assert_eq!(s.user().await.expect("user").as_deref(), Some("alice"));
    })
    .await
    .expect("finish");
    h.request(Some(&cookie), OK, async |s| {
        assert_eq!(s.user().await.expect("user"), None, "old id dead");
    })
    .await
    .expect("finish");
}

#[tokio::test]
async fn a_failed_logout_still_expires_the_cookie_with_a_503() {
    let h = harness(|b| b);
    let cookie = signed_in(&h, "alice").await;
    let session = start(&h, &cookie);
    session.destroy().await.expect("destroy");
    h.store.set_down(true);
    let failure = h.finish_ok(&session).await.expect_err("the delete fails");
    assert_eq!(failure.status_code(), 503);
    assert!(expires_cookie(&failure.headers));
}

// Item 4: login semantics that do not depend on the app remembering.

#[tokio::test]
async fn set_user_rotates_the_id_and_keeps_an_anonymous_cart() {
    let h = harness(|b| b);
    let anonymous = h.logged_cookie().await;
    let patch = h
        .request(Some(&anonymous), OK, async |s| {
            s.set_user("alice").await.expect("user")
        })
        .await
        .expect("finish");
    let signed = cookie_value(&patch).expect("login rotates");
    assert_ne!(signed, anonymous, "no fixation even without regenerate()");
    assert_eq!(h.store.inner().len(), 1);
    h.request(Some(&signed), OK, async |s| {
        assert_eq!(s.get::<i32>("n").await.expect("get"), Some(1), "cart kept");
        let at = s.authenticated_at().await.expect("at").expect("signed in");
        assert!(at <= Timestamp::now());
    })
    .await
    .expect("finish");
}

#[tokio::test]
async fn switching_principal_starts_from_empty_data_unless_switched_off() {
    for flush in [true, false] {
        let h = harness(|b| b.flush_on_principal_change(flush));
        let alice = signed_in(&h, "alice").await;
        let patch = h
            .request(Some(&alice), OK, async |s| {
                s.set_user("bob").await.expect("user");
                s.insert("greeting", "hi bob").await.expect("insert");
            })
            .await
            .expect("finish");
        let bob = cookie_value(&patch).expect("rotated");
        h.request(Some(&bob), OK, async |s| {
            let n = s.get::<i32>("n").await.expect("get");
            assert_eq!(n, (!flush).then_some(1), "flush = {flush}");
            assert_eq!(
                s.get::<String>("greeting").await.expect("get").as_deref(),
                Some("hi bob")
            );
        })
        .await
        .expect("finish");
    }
}

#[tokio::test]
async fn require_recent_auth_is_a_401_when_the_sign_in_is_old_or_missing() {
    let h = harness(|b| b);
    let anonymous = h.manager.start([]);
    let err = anonymous
        .require_recent_auth(Duration::from_secs(60))
        .await
        .expect_err("nobody signed in");
    assert!(matches!(err, SessionError::ReauthRequired));
    assert_eq!(err.status_code(), 401);
    let cookie = signed_in(&h, "alice").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    h.request(Some(&cookie), OK, async |s| {
        s.require_recent_auth(Duration::from_secs(60))
            .await
            .expect("recent");
        let old = s.require_recent_auth(Duration::from_millis(10)).await;
        assert!(matches!(old, Err(SessionError::ReauthRequired)));
    })
    .await
    .expect("finish");
}

#[tokio::test]
async fn signing_the_same_user_in_again_re_dates_the_login_and_rotates() {
    let h = harness(|b| b);
    let cookie = signed_in(&h, "alice").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let stale = |s: Session| async move { s.require_recent_auth(Duration::from_millis(10)).await };
    assert!(matches!(
        stale(start(&h, &cookie)).await,
        Err(SessionError::ReauthRequired)
    ));
    // The re-authentication flow: credentials asked again, then `set_user` once more.
    let patch = h
        .request(Some(&cookie), OK, async |s| {
            s.set_user("alice").await.expect("set_user");
        })
        .await
        .expect("finish");
    let rotated = cookie_value(&patch).expect("a re-authentication issues a new id");
    assert_ne!(rotated, cookie);
    h.request(Some(&rotated), OK, async |s| {
        s.require_recent_auth(Duration::from_millis(25))
            .await
            .expect("the login was re-dated");
        assert_eq!(s.get::<i32>("n").await.expect("get"), Some(1), "data kept");
    })
    .await
    .expect("finish");
    assert_eq!(live_sessions_of(&h, "alice").await, 1, "the old id ended");
}

// Item 5: expiry that cannot misfire.

#[tokio::test]
async fn an_active_reader_keeps_a_two_second_idle_session_alive() {
    let h = harness(|b| b.idle_timeout(Some(Duration::from_secs(2))));
    let cookie = signed_in(&h, "alice").await;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        h.request(Some(&cookie), OK, async |s| {
            assert_eq!(
                s.user().await.expect("user").as_deref(),
                Some("alice"),
                "signed out after {:?}",
                started.elapsed()
            );
        })
        .await
        .expect("finish");
    }
}

// Item 6: cache safety.

#[tokio::test]
async fn a_public_cache_policy_never_reaches_a_response_that_sets_a_session_cookie() {
    let h = harness(|b| b);
    let session = h.manager.start([]);
    session.insert("n", 1).await.expect("insert");
    let info = ResponseInfo {
        status: OK,
        cache_control: Some("public, max-age=600, s-maxage=600".into()),
    };
    let patch = h.manager.finish(&session, info).await.expect("finish");
    assert!(patch.set_cookie().is_some());
    assert_eq!(patch.cache_control(), Some("private, max-age=600"));
    assert_eq!(patch.replaced().collect::<Vec<_>>(), ["cache-control"]);
}

#[tokio::test]
async fn signed_in_responses_are_no_store_unless_opted_out() {
    for opted_out in [false, true] {
        let h = harness(|b| b.no_store_when_signed_in(!opted_out));
        let cookie = signed_in(&h, "alice").await;
        let session = start(&h, &cookie);
        session.user().await.expect("read");
        let info = ResponseInfo {
            status: OK,
            cache_control: Some("public, max-age=600".into()),
        };
        let patch = h.manager.finish(&session, info).await.expect("finish");
        assert!(patch.set_cookie().is_none(), "a read sets no cookie");
        let expected = (!opted_out).then_some("no-store");
        assert_eq!(patch.cache_control(), expected, "opted out: {opted_out}");
    }
}

// Item 8: hardening.

#[tokio::test]
async fn header_patch_debug_never_shows_the_cookie_value() {
    let h = harness(|b| b);
    let cookie = signed_in(&h, "alice").await;
    let session = start(&h, &cookie);
    session.regenerate().await.expect("regenerate");
    let patch = h.finish_ok(&session).await.expect("finish");
    let value = cookie_value(&patch).expect("new cookie");
    let debug = format!("{patch:?} {:?}", h.manager);
    assert!(!debug.contains(&value), "{debug}");
    assert!(debug.contains("sid=<redacted>"), "{debug}");
}

#[tokio::test]
async fn a_value_nested_deeper_than_the_backends_read_is_refused_at_insert() {
    let h = harness(|b| b);
    let session = h.manager.start([]);
    let nested =
        |depth: usize| (0..depth).fold(serde_json::json!(1), |v, _| serde_json::json!([v]));
    session
        .insert("ok", nested(session_core::MAX_VALUE_DEPTH))
        .await
        .expect("at the limit");
    let err = session
        .insert("deep", nested(127))
        .await
        .expect_err("too deep");
    assert!(
        matches!(err, SessionError::TooDeep { depth: 127, .. }),
        "{err}"
    );
    assert_eq!(session.get_value("deep").await.expect("get"), None);
}
