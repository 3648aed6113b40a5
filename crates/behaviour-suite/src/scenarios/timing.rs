//! Idle and absolute expiry, the throttled touch, persistent cookies. These sleep for
//! real (the server runs on real time); margins are generous and no speed is asserted.

use std::time::Duration;

use super::defaults;
use crate::{Harness, Spawn};

const HOUR: Duration = Duration::from_secs(3600);

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// An unmodified session is touched at most once per `touch_after`.
pub async fn touch_is_throttled_by_touch_after(spawn: Spawn) {
    let h = Harness::start(spawn, |b| b.touch_after(Duration::from_secs(1))).await;
    let sid = h.new_session("a", "1").await;
    h.reset();
    h.get_as("/s/get/a", &sid).await.assert_no_cookie(200);
    assert_eq!(h.calls().writes(), 0, "too early to touch");
    sleep_ms(1200).await;
    h.get_as("/s/get/a", &sid).await.assert_no_cookie(200);
    assert_eq!(h.calls().touch, 1, "{:?}", h.calls());
    h.reset();
    h.get_as("/s/get/a", &sid).await.assert_no_cookie(200);
    assert_eq!(h.calls().writes(), 0, "touched again too soon");
}

/// Reads keep pushing the idle deadline back; inactivity past it ends the session.
pub async fn rolling_expiry_keeps_an_active_session_alive(spawn: Spawn) {
    let configure = |b: session_core::SessionConfigBuilder| {
        b.idle_timeout(Some(Duration::from_secs(2)))
            .touch_after(Duration::ZERO)
    };
    let h = Harness::start(spawn, configure).await;
    let sid = h.new_session("a", "1").await;
    for _ in 0..3 {
        sleep_ms(1000).await;
        assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");
    }
    sleep_ms(2500).await;
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "null");
}

/// A cookie of an idle-expired session gets a fresh session with a new id.
pub async fn idle_expired_cookie_starts_a_fresh_session(spawn: Spawn) {
    let h = Harness::start(spawn, |b| b.idle_timeout(Some(Duration::from_secs(1)))).await;
    let sid = h.new_session("a", "1").await;
    sleep_ms(1300).await;
    let answer = h.get_as("/s/get/a", &sid).await;
    answer.assert_no_cookie(200);
    assert_eq!(answer.body, "null");
    let fresh = h.get_as("/s/set/b/2", &sid).await.cookie_value();
    assert_ne!(fresh, sid);
    assert_eq!(h.get_as("/s/get/a", &fresh).await.body, "null");
}

/// The absolute timeout ends a session however active it is.
pub async fn absolute_timeout_ends_even_an_active_session(spawn: Spawn) {
    let configure = |b: session_core::SessionConfigBuilder| {
        b.idle_timeout(Some(Duration::from_secs(10)))
            .absolute_timeout(Some(Duration::from_secs(2)))
            .touch_after(Duration::ZERO)
    };
    let h = Harness::start(spawn, configure).await;
    let sid = h.new_session("a", "1").await;
    sleep_ms(1000).await;
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");
    h.get_as("/s/set/b/2", &sid).await.assert_no_cookie(200);
    sleep_ms(1300).await;
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "null");
}

/// "Remember me" turns a browser-session cookie into a persistent one, same session.
pub async fn remember_me_gives_a_persistent_cookie(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let cookie = h
        .get_as("/s/remember/true", &sid)
        .await
        .session_cookie()
        .expect("re-issued as persistent");
    assert_eq!(cookie.value(), sid, "same session, same cookie value");
    assert_max_age_near(&cookie, 24 * HOUR);
    assert!(cookie.expires().is_some(), "Expires accompanies Max-Age");
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");

    let fresh = h.get("/s/remember/true").await.session_cookie();
    assert_max_age_near(&fresh.expect("a new persistent session"), 24 * HOUR);

    let forgotten = h
        .get_as("/s/remember/false", &sid)
        .await
        .session_cookie()
        .expect("the persistent cookie is replaced");
    assert_eq!(forgotten.value(), sid, "same session");
    assert_eq!(
        forgotten.max_age(),
        None,
        "back to a browser-session cookie"
    );
    assert_eq!(forgotten.expires(), None);
}

/// A persistent cookie's Max-Age is renewed whenever the store deadline moves.
pub async fn persistent_cookie_max_age_follows_the_touch(spawn: Spawn) {
    let configure = |b: session_core::SessionConfigBuilder| {
        b.persistent(true)
            .idle_timeout(Some(Duration::from_secs(60)))
            .touch_after(Duration::from_secs(1))
    };
    let h = Harness::start(spawn, configure).await;
    let first = h
        .get("/s/set/a/1")
        .await
        .session_cookie()
        .expect("a cookie");
    assert_max_age_near(&first, Duration::from_secs(60));
    h.get_as("/s/get/a", first.value())
        .await
        .assert_no_cookie(200);
    sleep_ms(1200).await;
    h.reset();
    let renewed = h.get_as("/s/get/a", first.value()).await.session_cookie();
    assert_eq!(h.calls().touch, 1);
    let renewed = renewed.expect("a renewed persistent cookie");
    assert_eq!(renewed.value(), first.value());
    assert_max_age_near(&renewed, Duration::from_secs(60));
}

fn assert_max_age_near(cookie: &cookie::Cookie<'_>, expected: Duration) {
    let age = cookie.max_age().expect("a Max-Age").whole_seconds();
    let expected = i64::try_from(expected.as_secs()).unwrap_or(i64::MAX);
    assert!(
        (expected - 5..=expected).contains(&age),
        "Max-Age {age}, expected about {expected}"
    );
}
