//! Laziness and write-only-what-changed.

use super::defaults;
use crate::contract::{PLAIN, PLAIN_BODY};
use crate::{Harness, Spawn};

/// A route that never touches the session costs no store call, with or without a cookie.
pub async fn plain_route_never_calls_the_store(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    h.reset();
    let answer = h.get(PLAIN).await;
    answer.assert_no_cookie(200);
    assert_eq!(answer.body, PLAIN_BODY);
    h.get_as(PLAIN, &sid).await.assert_no_cookie(200);
    assert_eq!(h.calls().total(), 0, "{:?}", h.calls());
}

/// Reading a session that does not exist stores nothing and sets no cookie.
pub async fn untouched_new_session_gets_no_cookie_and_no_store_call(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    for path in [
        "/s/get/a",
        "/s/keys",
        "/s/user",
        "/s/remove/a",
        "/s/regenerate",
    ] {
        h.get(path).await.assert_no_cookie(200);
    }
    assert_eq!(h.calls().total(), 0, "{:?}", h.calls());
}

/// A read-only request loads once, however many reads it makes, and writes nothing.
pub async fn read_only_request_loads_once_and_writes_nothing(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    h.reset();
    let answer = h.get_as("/s/get/a", &sid).await;
    answer.assert_no_cookie(200);
    assert_eq!(answer.body, "\"1\"");
    let calls = h.calls();
    assert_eq!((calls.load, calls.writes()), (1, 0), "{calls:?}");
}

/// The first write creates exactly one record and sets a browser-session cookie.
pub async fn first_write_creates_one_record_and_a_browser_session_cookie(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let answer = h.get("/s/set/a/1").await;
    assert_eq!(answer.status, 200);
    let calls = h.calls();
    assert_eq!((calls.create, calls.total()), (1, 1), "{calls:?}");
    let cookie = answer.session_cookie().expect("a session cookie");
    assert_eq!((cookie.max_age(), cookie.expires()), (None, None));
    assert!(h.stored(cookie.value()).await);
}

/// A modifying request on an existing session is one load and one write, no new cookie.
pub async fn modifying_request_writes_exactly_once(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    for path in ["/s/set/b/2", "/s/remove/a"] {
        h.reset();
        h.get_as(path, &sid).await.assert_no_cookie(200);
        let calls = h.calls();
        assert_eq!(
            (calls.load, calls.apply, calls.total()),
            (1, 1, 2),
            "{path}: {calls:?}"
        );
    }
}

/// What one request stores, the next reads; removals stick.
pub async fn data_round_trips_across_requests(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    h.get_as("/s/set/b/two", &sid).await.assert_no_cookie(200);
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");
    assert_eq!(h.get_as("/s/get/b", &sid).await.body, "\"two\"");
    assert_eq!(h.get_as("/s/keys", &sid).await.body, "a,b");
    h.get_as("/s/remove/a", &sid).await.assert_no_cookie(200);
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "null");
    assert_eq!(h.get_as("/s/keys", &sid).await.body, "b");
}

/// With `save_uninitialized`, a touched empty session is stored and gets a cookie.
pub async fn save_uninitialized_opt_in_stores_an_empty_session(spawn: Spawn) {
    let h = Harness::start(spawn, |b| b.save_uninitialized(true)).await;
    h.get(PLAIN).await.assert_no_cookie(200);
    let answer = h.get("/s/keys").await;
    assert_eq!(h.calls().create, 1);
    let sid = answer.cookie_value();
    h.reset();
    let again = h.get_as("/s/keys", &sid).await;
    again.assert_no_cookie(200);
    assert_eq!(again.body, "");
    assert_eq!((h.calls().load, h.calls().writes()), (1, 0));
}

/// Fifty concurrent requests of one session, each writing its own key: all survive.
pub async fn concurrent_writes_of_distinct_keys_all_survive(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let paths: Vec<String> = (0..50).map(|i| format!("/s/set/k{i}/{i}")).collect();
    let answers =
        futures_util::future::join_all(paths.iter().map(|path| h.get_as(path, &sid))).await;
    assert!(answers.iter().all(|a| a.status == 200), "{answers:?}");
    let keys = h.get_as("/s/keys", &sid).await.body;
    assert_eq!(keys.split(',').count(), 51, "{keys}");
    for i in [0, 17, 49] {
        assert_eq!(
            h.get_as(&format!("/s/get/k{i}"), &sid).await.body,
            format!("\"{i}\"")
        );
    }
}
