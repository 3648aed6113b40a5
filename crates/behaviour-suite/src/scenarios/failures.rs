//! Store outages, conflicts, oversized data.

use std::sync::atomic::{AtomicU64, Ordering};

use session_core::ConflictPolicy;

use super::defaults;
use crate::contract::{PLAIN, PLAIN_BODY};
use crate::{Answer, Harness, Spawn};

/// During an outage, routes that use the session answer an empty 503; others are fine.
pub async fn store_outage_is_503_on_session_routes_only(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    h.store.set_down(true);
    let plain = h.get_as(PLAIN, &sid).await;
    plain.assert_no_cookie(200);
    assert_eq!(plain.body, PLAIN_BODY);
    for answer in [
        h.get_as("/s/get/a", &sid).await,
        h.get_as("/s/set/b/2", &sid).await,
        h.get("/s/set/b/2").await,
    ] {
        answer.assert_no_cookie(503);
        assert_eq!(answer.body, "", "the error text leaked");
    }
    assert_eq!(
        h.get("/s/get/a").await.status,
        200,
        "no cookie: no store call"
    );
    h.store.set_down(false);
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");
}

/// Two requests racing on one session, both reading `key` before either writes it.
async fn race(h: &Harness, sid: &str) -> [Answer; 2] {
    static GATE: AtomicU64 = AtomicU64::new(0);
    let gate = format!("gate-{}", GATE.fetch_add(1, Ordering::SeqCst));
    let x = format!("/s/rendezvous/{gate}/key/x");
    let y = format!("/s/rendezvous/{gate}/key/y");
    let (a, b) = tokio::join!(h.get_as(&x, sid), h.get_as(&y, sid));
    [a, b]
}

/// Strict mode: the second of two racing writers gets an empty 409.
pub async fn strict_mode_conflict_is_409(spawn: Spawn) {
    let h = Harness::start(spawn, |b| b.conflict_policy(ConflictPolicy::Strict)).await;
    let sid = h.new_session("a", "1").await;
    let [x, y] = race(&h, &sid).await;
    let (winner, loser, value) = match (x.status, y.status) {
        (200, 409) => (x, y, "\"x\""),
        (409, 200) => (y, x, "\"y\""),
        other => panic!("expected one 200 and one 409, got {other:?}"),
    };
    winner.assert_no_cookie(200);
    loser.assert_no_cookie(409);
    assert_eq!(loser.body, "");
    assert_eq!(h.get_as("/s/get/key", &sid).await.body, value);
}

/// Merge mode: the same race succeeds twice, last writer wins.
pub async fn merge_mode_same_race_succeeds(spawn: Spawn) {
    let h = Harness::start(spawn, defaults).await;
    let sid = h.new_session("a", "1").await;
    let [x, y] = race(&h, &sid).await;
    assert_eq!((x.status, y.status), (200, 200));
    let value = h.get_as("/s/get/key", &sid).await.body;
    assert!(value == "\"x\"" || value == "\"y\"", "{value}");
    assert_eq!(h.get_as("/s/get/a", &sid).await.body, "\"1\"");
}

/// Data over the limit is refused with an empty 413 and nothing changes.
pub async fn oversized_data_is_413_and_changes_nothing(spawn: Spawn) {
    let h = Harness::start(spawn, |b| b.max_data_bytes(1024)).await;
    let sid = h.new_session("a", "1").await;
    h.reset();
    let answer = h.get_as("/s/big/2000", &sid).await;
    answer.assert_no_cookie(413);
    assert_eq!(answer.body, "");
    assert_eq!(h.calls().writes(), 0);
    assert_eq!(h.get_as("/s/get/big", &sid).await.body, "null");
    h.get_as("/s/big/100", &sid).await.assert_no_cookie(200);
    h.reset();
    h.get("/s/big/2000").await.assert_no_cookie(413);
    assert_eq!(h.calls().total(), 0);
}
