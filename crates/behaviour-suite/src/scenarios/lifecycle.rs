//! Regenerate, login, destroy.

use super::defaults;
use crate::{Harness, Spawn};

/// `regenerate` moves the data to a new id in one store call; the old id stops working.
pub async fn regenerate_changes_the_id_and_keeps_the_data(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let old = h.new_session("a", "1").await;
    h.reset();
    let new = h.get_as("/s/regenerate", &old).await.cookie_value();
    assert_ne!(new, old);
    let calls = h.calls();
    assert_eq!((calls.rotate, calls.writes()), (1, 1), "{calls:?}");
    assert_eq!(h.get_as("/s/get/a", &new).await.body, "\"1\"");
    assert_eq!(h.get_as("/s/get/a", &old).await.body, "null");
    assert!(!h.stored(&old).await);
}

/// Login (set user + regenerate) binds the user to a new id only.
pub async fn login_sets_the_user_and_kills_the_pre_login_id(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let anonymous = h.new_session("cart", "3").await;
    let signed_in = h.get_as("/s/login/alice", &anonymous).await.cookie_value();
    assert_ne!(signed_in, anonymous);
    assert_eq!(h.get_as("/s/user", &signed_in).await.body, "alice");
    assert_eq!(h.get_as("/s/get/cart", &signed_in).await.body, "\"3\"");
    assert_eq!(h.get_as("/s/user", &anonymous).await.body, "");
}

/// `set_user` alone rotates the id (no fixation even when the app forgets `regenerate`),
/// keeps an anonymous cart, and signing out rotates again and drops the data.
pub async fn sign_in_rotates_the_id_by_itself(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let anonymous = h.new_session("cart", "3").await;
    let signed_in = h
        .get_as("/s/sign-in/alice", &anonymous)
        .await
        .cookie_value();
    assert_ne!(signed_in, anonymous);
    assert_eq!(h.get_as("/s/user", &anonymous).await.body, "");
    assert_eq!(h.get_as("/s/get/cart", &signed_in).await.body, "\"3\"");
    let signed_out = h.get_as("/s/sign-out", &signed_in).await.cookie_value();
    assert_ne!(signed_out, signed_in);
    assert_eq!(h.get_as("/s/user", &signed_in).await.body, "");
    assert_eq!(h.get_as("/s/get/cart", &signed_out).await.body, "null");
}

/// `require_recent_auth` is a 401 through every adapter when the sign-in is too old or
/// missing, and passes when it is recent.
pub async fn stale_sign_in_is_401_for_sensitive_actions(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    assert_eq!(h.get("/s/recent/60000").await.status, 401);
    let sid = h.get("/s/sign-in/alice").await.cookie_value();
    assert_eq!(h.get_as("/s/recent/60000", &sid).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(h.get_as("/s/recent/10", &sid).await.status, 401);
}

/// `destroy` deletes the record and sends an expiring cookie.
pub async fn destroy_deletes_the_record_and_expires_the_cookie(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    h.reset();
    let cookie = h
        .get_as("/s/destroy", &sid)
        .await
        .session_cookie()
        .expect("an expiring cookie");
    assert_eq!(cookie.value(), "");
    assert_eq!(cookie.max_age(), Some(cookie::time::Duration::ZERO));
    assert_eq!(h.calls().delete, 1);
    assert!(!h.stored(&sid).await);
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "null");
}

/// Writes after `destroy` in the same request start a new session under a new id.
pub async fn writes_after_destroy_start_a_new_session(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let old = h.new_session("a", "1").await;
    let new = h
        .get_as("/s/destroy-then-set/b/2", &old)
        .await
        .cookie_value();
    assert!(!new.is_empty() && new != old);
    assert!(!h.stored(&old).await);
    assert_eq!(h.get_as("/s/get/b", &new).await.body, "\"2\"");
    assert_eq!(h.get_as("/s/get/a", &new).await.body, "null");
}

/// Destroying when there is no session does nothing.
pub async fn destroy_without_a_session_is_harmless(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    h.get("/s/destroy").await.assert_no_cookie(200);
    assert_eq!(h.calls().total(), 0);
}

/// A user's sessions are listed, and "sign out other devices" ends all but this one.
pub async fn user_sessions_are_listed_and_others_revoked(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let mut devices = Vec::new();
    for _ in 0..3 {
        devices.push(h.get("/s/login/alice").await.cookie_value());
    }
    let bob = h.get("/s/login/bob").await.cookie_value();
    assert_eq!(h.get_as("/s/sessions", &devices[0]).await.body, "3");
    assert_eq!(h.get_as("/s/revoke-others", &devices[0]).await.body, "2");
    assert_eq!(h.get_as("/s/user", &devices[0]).await.body, "alice");
    for other in &devices[1..] {
        assert_eq!(h.get_as("/s/user", other).await.body, "");
    }
    assert_eq!(h.get_as("/s/sessions", &devices[0]).await.body, "1");
    assert_eq!(h.get_as("/s/user", &bob).await.body, "bob");
}

/// Listing sessions needs a user: without one it is a (bodiless) server error.
pub async fn session_list_without_user_is_a_server_error(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let answer = h.get_as("/s/sessions", &sid).await;
    answer.assert_no_cookie(500);
    assert_eq!(answer.body, "");
}
