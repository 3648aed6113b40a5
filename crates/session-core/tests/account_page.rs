//! The account page through the manager (issue 12): the label a request sets is stored,
//! a session is signed out by its handle only by its own user, and the per-user cap
//! evicts the least recently seen session at login.

mod common;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use common::{OK, cookie_value, harness};
use session_core::{SessionHandle, SessionSummary};

/// Signs `user` in on a fresh session labelled `label`; returns the cookie.
async fn sign_in(h: &common::Harness, user: &str, label: &str) -> String {
    let patch = h
        .request(None, OK, async |s| {
            s.set_user(user).await.expect("set_user");
            s.set_label(label).await.expect("set_label");
        })
        .await
        .expect("finish");
    cookie_value(&patch).expect("a login sets a cookie")
}

/// Lets the millisecond clock move on, so `last_seen` orders the steps.
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

async fn listed(h: &common::Harness, cookie: &str) -> Vec<SessionSummary> {
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = out.clone();
    h.request(Some(cookie), OK, async move |s| {
        let list = s.sessions_of_user().await.expect("list");
        *sink.lock().expect("lock") = list;
    })
    .await
    .expect("finish");
    out.lock().expect("lock").clone()
}

#[tokio::test]
async fn labels_are_listed_and_a_handle_signs_out_only_its_own_users_session() {
    let h = harness(|b| b);
    let laptop = sign_in(&h, "alice", "Firefox on Linux").await;
    let phone = sign_in(&h, "alice", "Safari on iOS").await;
    let mallory = sign_in(&h, "mallory", "curl").await;

    let sessions = listed(&h, &laptop).await;
    let mut labels: Vec<_> = sessions.iter().filter_map(|s| s.label.clone()).collect();
    labels.sort();
    assert_eq!(labels, ["Firefox on Linux", "Safari on iOS"]);
    for s in &sessions {
        assert!(!s.handle().as_str().contains(&laptop) && !s.handle().as_str().contains(&phone));
    }
    let phone_handle = listed(&h, &phone)
        .await
        .iter()
        .find(|s| s.label.as_deref() == Some("Safari on iOS"))
        .map(SessionSummary::handle)
        .expect("the phone is listed");

    // Mallory holds the handle (say, from a shared screenshot): refused.
    let handle = phone_handle.clone();
    h.request(Some(&mallory), OK, async move |s| {
        assert!(!s.revoke_session(&handle).await.expect("revoke"));
    })
    .await
    .expect("finish");
    assert_eq!(listed(&h, &laptop).await.len(), 2);
    // Text that is not a handle does not parse into one.
    assert_eq!(SessionHandle::parse("not-a-handle"), None);

    // Alice signs her phone out from her laptop.
    let handle = phone_handle.clone();
    h.request(Some(&laptop), OK, async move |s| {
        assert!(s.revoke_session(&handle).await.expect("revoke"));
        assert_ne!(s.handle().await.expect("handle"), Some(handle));
    })
    .await
    .expect("finish");
    let patch = h
        .request(Some(&phone), OK, async |s| {
            assert_eq!(
                s.user().await.expect("user"),
                None,
                "the phone is signed out"
            );
        })
        .await
        .expect("finish");
    assert!(patch.set_cookie().is_none_or(|c| !c.contains(&phone)));
    assert_eq!(listed(&h, &laptop).await.len(), 1);
}

#[tokio::test]
async fn a_login_beyond_the_cap_signs_out_the_least_recently_seen_session() {
    let h = harness(|b| b.max_sessions_per_user(NonZeroUsize::new(2)));
    let first = sign_in(&h, "alice", "first").await;
    tick().await;
    let second = sign_in(&h, "alice", "second").await;
    tick().await;
    // The first device is used again, so the second is now the least recently seen.
    h.request(Some(&first), OK, async |s| {
        s.insert("clicks", 1).await.expect("insert");
    })
    .await
    .expect("finish");
    tick().await;
    let third = sign_in(&h, "alice", "third").await;
    let mut labels: Vec<_> = listed(&h, &third)
        .await
        .into_iter()
        .filter_map(|s| s.label)
        .collect();
    labels.sort();
    assert_eq!(labels, ["first", "third"]);
    h.request(Some(&second), OK, async |s| {
        assert_eq!(s.user().await.expect("user"), None, "evicted");
    })
    .await
    .expect("finish");
    // Other users are not counted against alice's cap.
    sign_in(&h, "bob", "bob's").await;
    assert_eq!(listed(&h, &third).await.len(), 2);
}

#[tokio::test]
async fn without_a_cap_every_login_stays() {
    let h = harness(|b| b);
    let mut last = String::new();
    for i in 0..5 {
        last = sign_in(&h, "alice", &format!("device {i}")).await;
    }
    assert_eq!(listed(&h, &last).await.len(), 5);
}
