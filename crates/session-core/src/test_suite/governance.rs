//! Conformance cases of the account page (issue 12): what a listing shows, paging,
//! signing one session out, the per-user cap, and "sign out everywhere else" at scale.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use super::{created, futures_join_all, in_secs, live_record, loaded, random_user, set};
use crate::{
    ApplyOutcome, MAX_SESSIONS_PER_PAGE, PageRequest, RotateOutcome, SessionHandle, SessionStore,
    SessionSummary, StoreKey, Timestamp,
};

async fn list(store: &dyn SessionStore, user: &str) -> Vec<SessionSummary> {
    store
        .sessions_of(user, &PageRequest::default())
        .await
        .expect("sessions_of failed")
        .sessions
}

fn owned_by(user: &str) -> crate::Record {
    let mut record = live_record();
    record.user = Some(user.to_owned());
    record.authenticated_at = Some(record.created_at);
    record
}

/// A listed session carries `created_at`, `expires_at`, `last_seen`, `authenticated_at`
/// and the label, and its handle is not its key's text (nor, of course, an id).
pub async fn summaries_carry_account_metadata(store: &dyn SessionStore) {
    let user = random_user();
    let mut record = owned_by(&user);
    record.created_at = in_secs(-60);
    record.authenticated_at = Some(in_secs(-50));
    record.last_seen = in_secs(-40);
    record.label = Some("Firefox on Linux".into());
    let key = created(store, &record).await;
    let listed = list(store, &user).await;
    assert_eq!(listed.len(), 1);
    let summary = &listed[0];
    assert_eq!(summary.key, key);
    assert_eq!(summary.created_at, record.created_at);
    assert_eq!(summary.expires_at, record.expires_at);
    assert_eq!(summary.last_seen, record.last_seen);
    assert_eq!(summary.authenticated_at, record.authenticated_at);
    assert_eq!(summary.label.as_deref(), Some("Firefox on Linux"));
    assert_eq!(summary.handle(), SessionHandle::of(&key));
    assert_ne!(summary.handle().as_str(), key.as_str());
}

/// `apply` dates `last_seen` from its changeset's `began_at`, `touch` from the store's
/// now; the listing shows the same.
pub async fn last_seen_follows_writes_and_touches(store: &dyn SessionStore) {
    let user = random_user();
    let mut record = owned_by(&user);
    record.last_seen = in_secs(-600);
    let key = created(store, &record).await;
    let mut changes = set(&[("a", json!(1))]);
    changes.began_at = in_secs(-300);
    assert!(matches!(
        store
            .apply(&key, &changes, None)
            .await
            .expect("apply failed"),
        ApplyOutcome::Applied(_)
    ));
    assert_eq!(loaded(store, &key).await.last_seen, changes.began_at);
    assert_eq!(list(store, &user).await[0].last_seen, changes.began_at);
    let before_touch = Timestamp::now();
    assert!(
        store
            .touch(&key, in_secs(7200))
            .await
            .expect("touch failed")
    );
    let after_touch = Timestamp::now();
    let seen = loaded(store, &key).await.last_seen;
    assert!(
        seen >= before_touch && seen <= after_touch,
        "touch left last_seen at {seen:?}, not within [{before_touch:?}, {after_touch:?}]"
    );
    assert_eq!(list(store, &user).await[0].last_seen, seen);
}

/// A label is set, replaced and removed by `apply`, and moves with a rotation.
pub async fn label_changes_with_apply_and_survives_rotation(store: &dyn SessionStore) {
    let user = random_user();
    let key = created(store, &owned_by(&user)).await;
    let mut changes = set(&[]);
    changes.label = Some(Some("Safari on iOS".into()));
    assert!(matches!(
        store
            .apply(&key, &changes, None)
            .await
            .expect("apply failed"),
        ApplyOutcome::Applied(_)
    ));
    assert_eq!(
        loaded(store, &key).await.label.as_deref(),
        Some("Safari on iOS")
    );
    let to = StoreKey::random();
    let outcome = store.rotate(&key, &to, &set(&[]), None).await;
    assert!(matches!(
        outcome.expect("rotate failed"),
        RotateOutcome::Rotated(_)
    ));
    assert_eq!(
        loaded(store, &to).await.label.as_deref(),
        Some("Safari on iOS")
    );
    assert_eq!(
        list(store, &user).await[0].label.as_deref(),
        Some("Safari on iOS")
    );
    let mut removal = set(&[]);
    removal.label = Some(None);
    assert!(matches!(
        store
            .apply(&to, &removal, None)
            .await
            .expect("apply failed"),
        ApplyOutcome::Applied(_)
    ));
    assert_eq!(loaded(store, &to).await.label, None);
}

/// Pages are newest first (`created_at`, then key), chain without gaps or repeats, and
/// leave out other users' and expired sessions.
pub async fn sessions_of_pages_newest_first(store: &dyn SessionStore) {
    let user = random_user();
    let mut keys = Vec::new();
    for i in 0..7 {
        let mut record = owned_by(&user);
        record.created_at = in_secs(-100 + i);
        keys.push((record.created_at, created(store, &record).await));
    }
    // Two with the same created_at: the key breaks the tie.
    let mut twin = owned_by(&user);
    twin.created_at = keys[3].0;
    keys.push((twin.created_at, created(store, &twin).await));
    let mut expired = owned_by(&user);
    expired.expires_at = in_secs(-5);
    let outcome = store.create(&StoreKey::random(), &expired).await;
    assert_eq!(
        outcome.expect("create failed"),
        crate::CreateOutcome::Created
    );
    created(store, &owned_by(&random_user())).await;
    keys.sort_by(|a, b| b.cmp(a));
    let expected: Vec<StoreKey> = keys.into_iter().map(|(_, k)| k).collect();

    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    let mut pages = 0;
    loop {
        let got = store
            .sessions_of(&user, &page)
            .await
            .expect("sessions_of failed");
        assert!(got.sessions.len() <= 3, "page over its limit");
        seen.extend(got.sessions.iter().map(|s| s.key.clone()));
        pages += 1;
        match got.next {
            Some(next) => page = next,
            None => break,
        }
        assert!(pages < 10, "pages never end");
    }
    assert_eq!(seen, expected, "pages are not newest first without gaps");
    assert_eq!(pages, 3);
}

/// However many sessions a user has, one call returns at most the page maximum, and the
/// next page holds the rest.
pub async fn sessions_of_never_exceeds_the_page_maximum(store: &dyn SessionStore) {
    let user = random_user();
    let record = owned_by(&user);
    let creates = (0..MAX_SESSIONS_PER_PAGE + 5).map(|_| created(store, &record));
    let all: BTreeSet<StoreKey> = futures_join_all(creates).await.into_iter().collect();
    let first = store
        .sessions_of(&user, &PageRequest::first(usize::MAX))
        .await
        .expect("sessions_of failed");
    assert_eq!(first.sessions.len(), MAX_SESSIONS_PER_PAGE);
    let next = first.next.clone().expect("a second page");
    let second = store
        .sessions_of(&user, &next)
        .await
        .expect("sessions_of failed");
    assert_eq!(second.sessions.len(), 5);
    assert_eq!(second.next, None);
    let listed: BTreeSet<StoreKey> = first
        .sessions
        .iter()
        .chain(&second.sessions)
        .map(|s| s.key.clone())
        .collect();
    assert_eq!(listed, all);
}

/// Signing one session out by key checks its owner: another user's key changes nothing.
pub async fn delete_session_of_checks_the_owner(store: &dyn SessionStore) {
    let (alice, mallory) = (random_user(), random_user());
    let alices = created(store, &owned_by(&alice)).await;
    let other = created(store, &owned_by(&alice)).await;
    created(store, &owned_by(&mallory)).await;
    let refused = store.delete_session_of(&mallory, &alices).await;
    assert!(
        !refused.expect("delete_session_of failed"),
        "another user's session went"
    );
    assert!(store.load(&alices).await.expect("load failed").is_some());
    let anonymous = created(store, &live_record()).await;
    let refused = store.delete_session_of(&alice, &anonymous).await;
    assert!(
        !refused.expect("delete_session_of failed"),
        "an anonymous session went"
    );
    assert!(store.load(&anonymous).await.expect("load failed").is_some());

    let done = store.delete_session_of(&alice, &alices).await;
    assert!(done.expect("delete_session_of failed"));
    assert_eq!(store.load(&alices).await.expect("load failed"), None);
    let keys: Vec<StoreKey> = list(store, &alice)
        .await
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(keys, [other]);
    let again = store.delete_session_of(&alice, &alices).await;
    assert!(!again.expect("delete_session_of failed"));
    // A write in flight on the signed-out session does not bring it back.
    assert_eq!(
        store
            .apply(&alices, &set(&[("late", json!(1))]), None)
            .await
            .expect("apply failed"),
        ApplyOutcome::Missing
    );
}

/// The cap keeps the session just logged in plus the most recently seen others, and
/// touches nobody else's sessions.
pub async fn trim_keeps_the_most_recently_seen(store: &dyn SessionStore) {
    let (user, bystander) = (random_user(), random_user());
    let mut by_age = Vec::new();
    for i in 0..5 {
        let mut record = owned_by(&user);
        record.last_seen = in_secs(-100 + i * 10);
        by_age.push(created(store, &record).await);
    }
    let mut login = owned_by(&user);
    login.last_seen = in_secs(-1000);
    let keep = created(store, &login).await;
    let theirs = created(store, &owned_by(&bystander)).await;
    let evicted = store
        .trim_sessions_of(&user, &keep, 3)
        .await
        .expect("trim_sessions_of failed");
    assert_eq!(evicted, 3);
    let left: BTreeSet<StoreKey> = list(store, &user)
        .await
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(
        left,
        [keep.clone(), by_age[3].clone(), by_age[4].clone()].into()
    );
    assert!(store.load(&theirs).await.expect("load failed").is_some());
    let again = store.trim_sessions_of(&user, &keep, 3).await;
    assert_eq!(again.expect("trim_sessions_of failed"), 0);
}

/// 50 concurrent logins of one user, each followed by the cap as the manager applies it:
/// once they are done at most the cap are live (and at least one).
pub async fn concurrent_logins_end_within_the_cap(store: &dyn SessionStore) {
    const CAP: usize = 3;
    let user = random_user();
    let logins = (0..50).map(|_| {
        let user = user.clone();
        async move {
            let mut record = owned_by(&user);
            record.last_seen = Timestamp::now();
            let key = created(store, &record).await;
            store.trim_sessions_of(&user, &key, CAP).await
        }
    });
    for trimmed in futures_join_all(logins).await {
        trimmed.expect("trim_sessions_of failed");
    }
    let live = list(store, &user).await.len();
    assert!(
        (1..=CAP).contains(&live),
        "{live} sessions live after 50 concurrent logins with a cap of {CAP}"
    );
}

/// "Sign out everywhere else" for a user with more sessions than one batch of any store:
/// every other session goes, the count says so, the kept one stays.
pub async fn delete_sessions_of_signs_out_many(store: &dyn SessionStore) {
    const MANY: usize = 1_200;
    let user = random_user();
    let record = owned_by(&user);
    let keep = created(store, &record).await;
    let mut others = Vec::with_capacity(MANY);
    for chunk in 0..MANY / 100 {
        let _ = chunk;
        let creates = (0..100).map(|_| created(store, &record));
        others.extend(futures_join_all(creates).await);
    }
    tokio::time::sleep(Duration::from_millis(5)).await;
    let n = store
        .delete_sessions_of(&user, Some(&keep))
        .await
        .expect("delete_sessions_of failed");
    assert_eq!(n, MANY as u64);
    let left: Vec<StoreKey> = list(store, &user)
        .await
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(left, [keep]);
    for key in others.iter().step_by(97) {
        assert_eq!(store.load(key).await.expect("load failed"), None);
    }
}
