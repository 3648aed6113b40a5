//! The manager's decisions (DESIGN §4), without HTTP: each request is `start` → handler →
//! `finish`, against a call-counting wrapper of the real memory store.

mod common;

use std::time::Duration;

use common::{OK, cookie_value, harness};
use serde_json::json;
use session_core::test_suite::Calls;
use session_core::{
    ConflictPolicy, CookieMode, Key, MemoryStore, SessionConfig, SessionError, SessionManager,
    Timestamp,
    adapter::ResponseInfo,
    store::{CreateOutcome, Record, SessionStore},
    test_suite::{CookieCodec, SessionId},
};

fn no_calls() -> Calls {
    Calls::default()
}

#[tokio::test]
async fn untouched_session_makes_no_store_call_and_no_header() {
    let h = harness(|b| b);
    let cookie = h.logged_cookie().await;
    h.store.reset();
    for c in [None, Some(cookie.as_str())] {
        let patch = h.request(c, OK, async |_| {}).await.expect("finish");
        assert!(patch.is_empty());
    }
    assert_eq!(h.store.calls(), no_calls());
}

#[tokio::test]
async fn new_session_nobody_wrote_creates_no_row_and_no_cookie() {
    let h = harness(|b| b);
    let patch = h
        .request(None, OK, async |s| {
            assert_eq!(s.get::<i32>("n").await.expect("get"), None)
        })
        .await
        .expect("finish");
    assert!(patch.is_empty());
    assert_eq!(
        h.store.calls(),
        no_calls(),
        "no cookie means nothing to load or save"
    );
    assert!(h.store.inner().is_empty());
}

#[tokio::test]
async fn save_uninitialized_stores_a_session_nobody_wrote() {
    let h = harness(|b| b.save_uninitialized(true));
    let patch = h
        .request(None, OK, async |s| drop(s.get_value("n").await))
        .await
        .expect("finish");
    assert!(cookie_value(&patch).is_some());
    assert_eq!(h.store.calls().create, 1);
    assert_eq!(h.store.inner().len(), 1);
}

#[tokio::test]
async fn new_modified_session_is_one_create() {
    let h = harness(|b| b);
    h.logged_cookie().await;
    assert_eq!(
        h.store.calls(),
        Calls {
            create: 1,
            ..no_calls()
        }
    );
}

#[tokio::test]
async fn modified_session_is_one_load_and_one_apply() {
    let h = harness(|b| b);
    let cookie = h.logged_cookie().await;
    h.store.reset();
    let patch = h
        .request(Some(&cookie), OK, async |s| {
            s.insert("m", 2).await.expect("insert")
        })
        .await
        .expect("finish");
    assert!(patch.is_empty(), "browser-session cookie needs no re-issue");
    assert_eq!(
        h.store.calls(),
        Calls {
            load: 1,
            apply: 1,
            ..no_calls()
        }
    );
    let got = h.request(Some(&cookie), OK, async |s| {
        assert_eq!(s.get::<i32>("n").await.expect("get"), Some(1));
        assert_eq!(s.get::<i32>("m").await.expect("get"), Some(2));
    });
    got.await.expect("finish");
}

#[tokio::test]
async fn unmodified_session_within_touch_after_writes_nothing() {
    let h = harness(|b| b.touch_after(Duration::from_secs(3600)));
    let cookie = h.logged_cookie().await;
    h.store.reset();
    let patch = h
        .request(Some(&cookie), OK, async |s| {
            drop(s.get_value("n").await.expect("get"))
        })
        .await
        .expect("finish");
    assert!(patch.is_empty());
    assert_eq!(
        h.store.calls(),
        Calls {
            load: 1,
            ..no_calls()
        }
    );
}

/// A write moves the idle deadline no more often than a touch: within `touch_after` of
/// the last move it keeps the stored one, after it moves it to now + idle timeout.
#[tokio::test]
async fn writes_move_the_deadline_once_per_touch_after() {
    let h = harness(|b| b.touch_after(Duration::from_secs(1)));
    let (id, planted) = (SessionId::generate(), Timestamp::now());
    // Last moved half a second ago (the default idle timeout is a day).
    let deadline = planted.add(Duration::from_secs(24 * 3600) - Duration::from_millis(500));
    let record = Record::new(planted, deadline, false);
    let store = h.store.inner();
    let created = store.create(&id.store_key(), &record).await;
    assert_eq!(created.expect("create"), CreateOutcome::Created);
    let cookie = h.manager.config().codec().encode(&id);
    let stored = async || {
        let record = store.load(&id.store_key()).await.expect("load");
        record.expect("live").expires_at
    };
    let write = |n: i32| {
        h.request(Some(&cookie), OK, async move |s| {
            s.insert("n", n).await.expect("insert");
        })
    };
    write(1).await.expect("finish");
    assert_eq!(stored().await, deadline, "moved within touch_after");
    tokio::time::sleep(Duration::from_millis(600)).await;
    write(2).await.expect("finish");
    assert!(stored().await > deadline, "kept past touch_after");
}

#[tokio::test]
async fn unmodified_session_older_than_touch_after_is_touched_once() {
    let h = harness(|b| b.touch_after(Duration::from_millis(100)).persistent(true));
    let cookie = h.logged_cookie().await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    h.store.reset();
    let patch = h
        .request(Some(&cookie), OK, async |s| {
            drop(s.get_value("n").await.expect("get"))
        })
        .await
        .expect("finish");
    assert_eq!(
        h.store.calls(),
        Calls {
            load: 1,
            touch: 1,
            ..no_calls()
        }
    );
    let header = patch
        .set_cookie()
        .expect("persistent cookie re-issued with the new deadline");
    assert!(header.contains("Max-Age="), "{header}");
}

#[tokio::test]
async fn regenerate_keeps_data_deletes_old_row_and_issues_new_id() {
    let h = harness(|b| b);
    let old = h.logged_cookie().await;
    let patch = h
        .request(Some(&old), OK, async |s| {
            s.set_user("alice").await.expect("user");
            s.regenerate().await.expect("regenerate");
        })
        .await
        .expect("finish");
    let new = cookie_value(&patch).expect("new cookie");
    assert_ne!(new, old);
    assert_eq!(h.store.inner().len(), 1, "old row deleted");
    h.request(Some(&new), OK, async |s| {
        assert_eq!(s.get::<i32>("n").await.expect("get"), Some(1));
        assert_eq!(s.user().await.expect("user").as_deref(), Some("alice"));
        assert_eq!(s.sessions_of_user().await.expect("list").len(), 1);
    })
    .await
    .expect("finish");
    h.request(Some(&old), OK, async |s| {
        assert_eq!(s.get_value("n").await.expect("get"), None)
    })
    .await
    .expect("finish");
}

#[tokio::test]
async fn destroy_deletes_row_and_expires_cookie() {
    let h = harness(|b| b);
    let cookie = h.logged_cookie().await;
    let patch = h
        .request(Some(&cookie), OK, async |s| {
            s.destroy().await.expect("destroy")
        })
        .await
        .expect("finish");
    let header = patch.set_cookie().expect("expiring cookie");
    assert!(
        header.starts_with("sid=;") && header.contains("Max-Age=0"),
        "{header}"
    );
    assert!(h.store.inner().is_empty());
}

#[tokio::test]
async fn writes_after_destroy_start_a_new_session() {
    let h = harness(|b| b);
    let cookie = h.logged_cookie().await;
    let patch = h
        .request(Some(&cookie), OK, async |s| {
            s.destroy().await.expect("destroy");
            s.insert("flash", "bye").await.expect("insert");
        })
        .await
        .expect("finish");
    let new = cookie_value(&patch).expect("new session cookie");
    assert_ne!(new, cookie);
    assert_eq!(h.store.inner().len(), 1);
}

/// Cookies that must never be adopted: each leads to a fresh session with a new id.
#[tokio::test]
async fn rejected_cookies_get_a_fresh_session_never_the_clients_id() {
    let h = harness(|b| b);
    let valid = h.logged_cookie().await;
    let other_key = CookieCodec::new("sid", CookieMode::Signed, vec![Key::generate()])
        .expect("codec")
        .encode(&SessionId::generate());
    let unknown = CookieCodec::new("sid", CookieMode::Signed, vec![h.key.clone()])
        .expect("codec")
        .encode(&SessionId::generate());
    let mut tampered = valid.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");

    // (name, cookie, store calls a bad signature may cause)
    let table: [(&str, String, Option<u64>); 6] = [
        ("tampered", tampered, Some(0)),
        ("signed by an unknown key", other_key, Some(0)),
        ("malformed", "not-a-session".into(), Some(0)),
        ("empty", String::new(), Some(0)),
        ("oversized", "A".repeat(5000), Some(0)),
        ("unknown id, valid signature", unknown, None),
    ];
    for (what, cookie, max_calls) in table {
        h.store.reset();
        let patch = h
            .request(Some(&cookie), OK, async |s| {
                assert_eq!(
                    s.get_value("n").await.expect("get"),
                    None,
                    "{what}: data leaked"
                );
            })
            .await
            .expect("finish");
        assert!(patch.is_empty(), "{what}: nothing written, nothing set");
        if let Some(max) = max_calls {
            assert_eq!(h.store.calls().total(), max, "{what}: store consulted");
        }
        let patch = h
            .request(Some(&cookie), OK, async |s| {
                s.insert("x", 1).await.expect("insert")
            })
            .await
            .expect("finish");
        let issued = cookie_value(&patch).expect("fresh session cookie");
        assert_ne!(issued, cookie, "{what}: client id adopted");
        assert_eq!(
            h.store.calls().create,
            1,
            "{what}: a fresh session is created, not applied"
        );
    }
}

#[tokio::test]
async fn expired_session_cookie_gets_a_fresh_session() {
    let h = harness(|b| b.idle_timeout(Some(Duration::from_millis(200))));
    let cookie = h.logged_cookie().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let patch = h
        .request(Some(&cookie), OK, async |s| {
            assert_eq!(s.get_value("n").await.expect("get"), None);
            s.insert("x", 1).await.expect("insert");
        })
        .await
        .expect("finish");
    assert_ne!(cookie_value(&patch).expect("fresh cookie"), cookie);
}

#[tokio::test]
async fn cookie_under_older_key_is_accepted_and_reissued_under_newest() {
    let old_key = Key::generate();
    let new_key = Key::generate();
    let store = MemoryStore::default();
    let config = |keys: Vec<Key>| {
        SessionConfig::builder(keys)
            .secure(false)
            .build()
            .expect("config")
    };
    let before = SessionManager::new(store.clone(), config(vec![old_key.clone()]));
    let session = before.start([]);
    session.insert("n", 1).await.expect("insert");
    let info = ResponseInfo::status(OK);
    let patch = before.finish(&session, info.clone()).await.expect("finish");
    let old_cookie = cookie_value(&patch).expect("cookie");

    let after = SessionManager::new(store, config(vec![new_key.clone(), old_key]));
    let header = format!("sid={old_cookie}");
    let session = after.start([header.as_bytes()]);
    assert_eq!(session.get::<i32>("n").await.expect("get"), Some(1));
    let patch = after.finish(&session, info).await.expect("finish");
    let reissued = cookie_value(&patch).expect("re-issued cookie");
    assert_ne!(reissued, old_cookie);
    let newest_only = CookieCodec::new("sid", CookieMode::Signed, vec![new_key]).expect("codec");
    let old_only_id = after
        .config()
        .codec()
        .decode(&old_cookie)
        .expect("old verifies")
        .id;
    assert_eq!(
        newest_only
            .decode(&reissued)
            .expect("newest key verifies")
            .id,
        old_only_id
    );
}

#[tokio::test]
async fn absolute_timeout_is_enforced_whatever_the_store_says() {
    let h = harness(|b| b.absolute_timeout(Some(Duration::from_secs(60))));
    let id = SessionId::generate();
    let ancient = Timestamp::now().sub(Duration::from_secs(3600));
    let mut record = Record::new(
        ancient,
        Timestamp::now().add(Duration::from_secs(3600)),
        false,
    );
    record.data.insert("n".into(), json!(1).into());
    let outcome = h
        .store
        .inner()
        .create(&id.store_key(), &record)
        .await
        .expect("create");
    assert_eq!(outcome, CreateOutcome::Created);
    let cookie = h.manager.config().codec().encode(&id);
    h.request(Some(&cookie), OK, async |s| {
        assert_eq!(
            s.get_value("n").await.expect("get"),
            None,
            "past the absolute deadline"
        );
    })
    .await
    .expect("finish");
}

#[tokio::test]
async fn server_errors_save_nothing_by_default() {
    let h = harness(|b| b);
    let patch = h
        .request(None, 500, async |s| s.insert("n", 1).await.expect("insert"))
        .await
        .expect("finish");
    assert!(patch.is_empty());
    assert!(h.store.inner().is_empty());
    assert_eq!(h.store.calls().writes(), 0);

    let h = harness(|b| b.save_on_server_error(true));
    let patch = h
        .request(None, 503, async |s| s.insert("n", 1).await.expect("insert"))
        .await
        .expect("finish");
    assert!(cookie_value(&patch).is_some(), "saved when configured to");
}

#[tokio::test]
async fn oversized_data_is_a_typed_error_and_changes_nothing() {
    let h = harness(|b| b.max_data_bytes(1024));
    let cookie = h.logged_cookie().await;
    h.request(Some(&cookie), OK, async |s| {
        let err = s
            .insert("big", "x".repeat(2000))
            .await
            .expect_err("over the limit");
        assert!(
            matches!(err, SessionError::TooLarge { limit: 1024, .. }),
            "{err}"
        );
        assert_eq!(err.status_code(), 413);
        assert_eq!(s.get_value("big").await.expect("get"), None);
        s.insert("small", "x".repeat(500))
            .await
            .expect("within the limit");
        let err = s
            .insert("small2", "x".repeat(600))
            .await
            .expect_err("cumulative limit");
        assert!(matches!(err, SessionError::TooLarge { .. }));
    })
    .await
    .expect("finish");
}

/// The limit counts what is stored, across requests: a replaced or removed key frees its
/// bytes, and a later request starts from the stored keys' sizes.
#[tokio::test]
async fn the_data_limit_counts_replacements_and_removals_once() {
    let h = harness(|b| b.max_data_bytes(1024));
    let cookie = h.logged_cookie().await;
    h.request(Some(&cookie), OK, async |s| {
        for _ in 0..3 {
            s.insert("a", "x".repeat(600)).await.expect("a replacement");
        }
        s.remove_value("a").await.expect("remove");
        s.insert("b", "x".repeat(600))
            .await
            .expect("room after a removal");
    })
    .await
    .expect("finish");
    h.request(Some(&cookie), OK, async |s| {
        let err = s
            .insert("c", "x".repeat(600))
            .await
            .expect_err("b is stored");
        assert!(matches!(err, SessionError::TooLarge { .. }), "{err}");
        s.insert("b", "x".repeat(700)).await.expect("replacing b");
    })
    .await
    .expect("finish");
}

#[tokio::test]
async fn set_cookie_comes_with_vary_and_cache_control_unless_set() {
    let h = harness(|b| b);
    let session = h.manager.start([]);
    session.insert("n", 1).await.expect("insert");
    let info = ResponseInfo::status(OK);
    let patch = h.manager.finish(&session, info).await.expect("finish");
    let headers: Vec<_> = patch.headers().collect();
    assert_eq!(headers.len(), 3);
    assert_eq!(headers[0].0, "set-cookie");
    assert_eq!(headers[1], ("vary", "Cookie"));
    assert_eq!(
        headers[2],
        ("cache-control", "private, no-cache=\"Set-Cookie\"")
    );
    assert_eq!(patch.replaced().collect::<Vec<_>>(), ["cache-control"]);

    let session = h.manager.start([]);
    session.insert("n", 1).await.expect("insert");
    let info = ResponseInfo {
        status: OK,
        cache_control: Some("max-age=60, must-revalidate".into()),
    };
    let patch = h.manager.finish(&session, info).await.expect("finish");
    assert_eq!(
        patch.cache_control(),
        Some("private, max-age=60, must-revalidate"),
        "the handler's policy is kept, made private"
    );
}

#[tokio::test]
async fn strict_policy_turns_a_lost_update_into_a_conflict() {
    let h = harness(|b| b.conflict_policy(ConflictPolicy::Strict));
    let cookie = h.logged_cookie().await;
    let (a, b) = h.two_requests(&cookie);
    a.insert("n", 2).await.expect("insert a");
    b.insert("n", 3).await.expect("insert b");
    h.finish_ok(&a).await.expect("first writer wins");
    let err = h.finish_ok(&b).await.expect_err("stale writer conflicts");
    assert!(matches!(err.error, SessionError::Conflict));
    assert_eq!(err.status_code(), 409);
}

#[tokio::test]
async fn merge_policy_keeps_both_writers_distinct_keys() {
    let h = harness(|b| b);
    let cookie = h.logged_cookie().await;
    let (a, b) = h.two_requests(&cookie);
    a.insert("a", 1).await.expect("insert a");
    b.insert("b", 2).await.expect("insert b");
    h.finish_ok(&a).await.expect("a");
    h.finish_ok(&b).await.expect("b");
    h.request(Some(&cookie), OK, async |s| {
        assert_eq!(s.get::<i32>("a").await.expect("get"), Some(1));
        assert_eq!(s.get::<i32>("b").await.expect("get"), Some(2));
    })
    .await
    .expect("finish");
}

#[tokio::test]
async fn a_write_racing_a_logout_does_not_resurrect_the_session() {
    let h = harness(|b| b);
    let cookie = h.logged_cookie().await;
    let header = format!("sid={cookie}");
    let writer = h.manager.start([header.as_bytes()]);
    writer.insert("late", 1).await.expect("insert");
    h.request(Some(&cookie), OK, async |s| {
        s.destroy().await.expect("destroy")
    })
    .await
    .expect("logout");
    let info = ResponseInfo::status(OK);
    let patch = h.manager.finish(&writer, info).await.expect("finish");
    assert!(patch.set_cookie().is_some_and(|c| c.contains("Max-Age=0")));
    assert!(h.store.inner().is_empty(), "no resurrection");
}

#[tokio::test]
async fn store_outage_is_a_typed_error_only_for_requests_that_touch_the_session() {
    let h = harness(|b| b);
    let cookie = h.logged_cookie().await;
    h.store.set_down(true);
    let patch = h
        .request(Some(&cookie), OK, async |_| {})
        .await
        .expect("untouched");
    assert!(patch.is_empty());
    h.request(Some(&cookie), OK, async |s| {
        let err = s.get_value("n").await.expect_err("store down");
        assert_eq!(err.status_code(), 503);
    })
    .await
    .expect("nothing loaded, nothing to save");
    let err = h
        .request(None, OK, async |s| {
            s.insert("n", 1).await.expect("no cookie: no load")
        })
        .await
        .expect_err("the save fails");
    assert_eq!(err.status_code(), 503);
}

#[tokio::test]
async fn remember_me_makes_the_cookie_persistent() {
    let h = harness(|b| b);
    let patch = h
        .request(None, OK, async |s| s.insert("n", 1).await.expect("insert"))
        .await
        .expect("finish");
    assert!(
        !patch.set_cookie().expect("cookie").contains("Max-Age"),
        "browser-session default"
    );
    let patch = h
        .request(None, OK, async |s| {
            s.insert("n", 1).await.expect("insert");
            s.set_persistent(true).await.expect("remember");
        })
        .await
        .expect("finish");
    let header = patch.set_cookie().expect("cookie");
    assert!(
        header.contains("Max-Age=86400") || header.contains("Max-Age=86399"),
        "{header}"
    );
}

#[tokio::test]
async fn default_cookie_attributes_are_safe() {
    let key = Key::generate();
    let manager = SessionManager::new(
        MemoryStore::default(),
        SessionConfig::builder([key]).build().expect("config"),
    );
    let session = manager.start([]);
    session.insert("n", 1).await.expect("insert");
    let info = ResponseInfo::status(OK);
    let patch = manager.finish(&session, info).await.expect("finish");
    let header = patch.set_cookie().expect("cookie");
    assert!(header.starts_with("__Host-sid="), "{header}");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(header.contains(attr), "{attr} missing in {header}");
    }
    assert!(!header.contains("Domain"), "{header}");
}

#[tokio::test]
async fn revoke_other_sessions_keeps_the_current_one() {
    let h = harness(|b| b);
    let mut cookies = Vec::new();
    for _ in 0..3 {
        let patch = h
            .request(None, OK, async |s| s.set_user("bob").await.expect("user"))
            .await
            .expect("finish");
        cookies.push(cookie_value(&patch).expect("cookie"));
    }
    h.request(Some(&cookies[0]), OK, async |s| {
        assert_eq!(s.sessions_of_user().await.expect("list").len(), 3);
        assert_eq!(s.revoke_other_sessions().await.expect("revoke"), 2);
        assert_eq!(s.sessions_of_user().await.expect("list").len(), 1);
    })
    .await
    .expect("finish");
    h.request(Some(&cookies[1]), OK, async |s| {
        assert_eq!(
            s.user().await.expect("user"),
            None,
            "revoked session is gone"
        );
    })
    .await
    .expect("finish");
}

#[tokio::test]
async fn turning_remember_me_off_reissues_a_browser_session_cookie() {
    let h = harness(|b| b.persistent(true));
    let cookie = h.logged_cookie().await;
    let patch = h
        .request(Some(&cookie), OK, async |s| {
            s.set_persistent(false).await.expect("forget")
        })
        .await
        .expect("finish");
    let header = patch
        .set_cookie()
        .expect("the persistent cookie is replaced");
    assert!(
        header.starts_with(&format!("sid={cookie}")),
        "same id: {header}"
    );
    assert!(!header.contains("Max-Age"), "{header}");
}
