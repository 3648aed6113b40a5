//! Conformance cases for `rotate` and the revocation rule: a rotation never outlives a
//! destroy or a revocation, and "log out everywhere" wins against requests in flight.

use std::time::Duration;

use serde_json::json;

use super::{created, keys_of, live_record, loaded, random_user, set};
use crate::{
    ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreKey,
    Timestamp,
};

async fn rotate(
    store: &dyn SessionStore,
    from: &StoreKey,
    to: &StoreKey,
    changes: &Changeset,
    expected: Option<u64>,
) -> RotateOutcome {
    store
        .rotate(from, to, changes, expected)
        .await
        .expect("rotate failed")
}

fn owned_by(user: &str) -> Record {
    let mut record = live_record();
    record.user = Some(user.to_owned());
    record.authenticated_at = Some(record.created_at);
    record
}

/// A changeset whose request began before "now": what a request in flight carries.
fn begun_earlier(mut changes: Changeset) -> Changeset {
    changes.began_at = Timestamp::from_millis(Timestamp::now().as_millis() - 50);
    changes
}

async fn revoke(store: &dyn SessionStore, user: &str, except: Option<&StoreKey>) -> u64 {
    // The revocation must be strictly later than anything begun before this call.
    tokio::time::sleep(Duration::from_millis(3)).await;
    store
        .delete_sessions_of(user, except)
        .await
        .expect("delete_sessions_of failed")
}

async fn absent(store: &dyn SessionStore, key: &StoreKey) -> bool {
    store.load(key).await.expect("load failed").is_none()
}

/// `rotate` moves the record to the new key with the changes applied per key, keeps its
/// creation time and user, bumps the version, and moves the index entry with it.
pub async fn rotate_moves_record_and_applies_changes(store: &dyn SessionStore) {
    let user = random_user();
    let record = owned_by(&user);
    let from = created(store, &record).await;
    let to = StoreKey::random();
    let mut changes = set(&[("fresh", json!([1, 2]))]);
    changes.removed.insert("n".into());
    let outcome = rotate(store, &from, &to, &changes, None).await;
    assert_eq!(outcome, RotateOutcome::Rotated(record.version + 1));
    assert!(absent(store, &from).await, "the old key still loads");
    let mut expected = record;
    expected.apply(&changes);
    assert_eq!(loaded(store, &to).await, expected);
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&user, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        [to].into()
    );
}

/// Rotating onto the same principal (a re-authentication) keeps the session in that
/// user's index, under the new key only, with the changeset's `authenticated_at`.
pub async fn rotate_reauthenticating_same_user(store: &dyn SessionStore) {
    let user = random_user();
    let from = created(store, &owned_by(&user)).await;
    let to = StoreKey::random();
    let mut changes = set(&[]);
    changes.user = Some(Some(user.clone()));
    changes.authenticated_at = Some(Timestamp::from_millis(Timestamp::now().as_millis() + 5));
    let outcome = rotate(store, &from, &to, &changes, None).await;
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    let got = loaded(store, &to).await;
    assert_eq!(got.user.as_deref(), Some(user.as_str()));
    assert_eq!(got.authenticated_at, changes.authenticated_at);
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&user, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        [to].into()
    );
}

/// Rotating onto another principal with `cleared` drops the old data and moves the
/// session between the two users' indexes; `authenticated_at` comes from the changeset.
pub async fn rotate_switches_user_and_flushes(store: &dyn SessionStore) {
    let (old_user, new_user) = (random_user(), random_user());
    let from = created(store, &owned_by(&old_user)).await;
    let to = StoreKey::random();
    let mut changes = set(&[("cart", json!(["book"]))]);
    changes.cleared = true;
    changes.user = Some(Some(new_user.clone()));
    changes.authenticated_at = Some(Timestamp::now());
    let outcome = rotate(store, &from, &to, &changes, None).await;
    assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
    let got = loaded(store, &to).await;
    assert_eq!(got.user.as_deref(), Some(new_user.as_str()));
    assert_eq!(got.authenticated_at, changes.authenticated_at);
    assert_eq!(
        got.data.keys().collect::<Vec<_>>(),
        ["cart"],
        "old data survived"
    );
    assert!(
        store
            .sessions_of(&old_user, &crate::PageRequest::default())
            .await
            .map(crate::SessionPage::into_sessions)
            .expect("sessions_of")
            .is_empty()
    );
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&new_user, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        [to].into()
    );
}

/// A rotation of a deleted session creates nothing: a destroy that won is never undone.
pub async fn rotate_after_delete_does_not_resurrect(store: &dyn SessionStore) {
    let user = random_user();
    let from = created(store, &owned_by(&user)).await;
    store.delete(&from).await.expect("delete failed");
    let to = StoreKey::random();
    let outcome = rotate(store, &from, &to, &set(&[("x", json!(1))]), None).await;
    assert_eq!(outcome, RotateOutcome::Missing);
    assert!(absent(store, &to).await && absent(store, &from).await);
    assert!(
        store
            .sessions_of(&user, &crate::PageRequest::default())
            .await
            .map(crate::SessionPage::into_sessions)
            .expect("sessions_of")
            .is_empty()
    );
}

/// Rotations of unknown or expired sessions are `Missing` and create nothing.
pub async fn rotate_of_missing_or_expired_is_missing(store: &dyn SessionStore) {
    let to = StoreKey::random();
    let unknown = rotate(store, &StoreKey::random(), &to, &set(&[]), None).await;
    assert_eq!(unknown, RotateOutcome::Missing);
    let mut record = live_record();
    record.expires_at = Timestamp::from_millis(Timestamp::now().as_millis() - 5000);
    let from = StoreKey::random();
    let outcome = store.create(&from, &record).await.expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    assert_eq!(
        rotate(store, &from, &to, &set(&[]), None).await,
        RotateOutcome::Missing
    );
    assert!(absent(store, &to).await);
}

/// Strict rotation: a stale expected version is a conflict and changes nothing; the
/// current one rotates.
pub async fn strict_rotate_respects_version(store: &dyn SessionStore) {
    let record = live_record();
    let from = created(store, &record).await;
    let to = StoreKey::random();
    let changes = set(&[("x", json!(1))]);
    let stale = rotate(store, &from, &to, &changes, Some(record.version + 5)).await;
    assert_eq!(stale, RotateOutcome::Conflict);
    assert_eq!(loaded(store, &from).await, record);
    assert!(absent(store, &to).await);
    let current = rotate(store, &from, &to, &changes, Some(record.version)).await;
    assert_eq!(current, RotateOutcome::Rotated(record.version + 1));
}

/// A live record under the new key is never overwritten: `KeyTaken`, both untouched.
pub async fn rotate_onto_live_key_is_key_taken(store: &dyn SessionStore) {
    let (a, b) = (live_record(), owned_by(&random_user()));
    let (from, to) = (created(store, &a).await, created(store, &b).await);
    let outcome = rotate(store, &from, &to, &set(&[("x", json!(1))]), None).await;
    assert_eq!(outcome, RotateOutcome::KeyTaken);
    assert_eq!(loaded(store, &from).await, a);
    assert_eq!(loaded(store, &to).await, b);
}

/// Rotation racing delete, many times: whatever the interleaving, the old key ends empty
/// and the new key is live exactly when the rotation reported `Rotated`.
pub async fn rotate_racing_delete_is_linearizable(store: &dyn SessionStore) {
    for _ in 0..20 {
        let user = random_user();
        let from = created(store, &owned_by(&user)).await;
        let to = StoreKey::random();
        let changes = set(&[("x", json!(1))]);
        let (outcome, deleted) = tokio::join!(
            rotate(store, &from, &to, &changes, None),
            store.delete(&from)
        );
        deleted.expect("delete failed");
        assert!(absent(store, &from).await, "the old key survived");
        match outcome {
            RotateOutcome::Rotated(_) => assert!(!absent(store, &to).await),
            RotateOutcome::Missing => assert!(absent(store, &to).await, "created after a win"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// "Log out everywhere" racing a rotation begun before it, many times and at spread-out
/// offsets (a multi-step rotation must be caught in each of its gaps): afterwards the
/// user has no live session under either key, whichever went first.
pub async fn revocation_wins_against_rotation_in_flight(store: &dyn SessionStore) {
    for round in 0..40u64 {
        let user = random_user();
        let from = created(store, &owned_by(&user)).await;
        let to = StoreKey::random();
        let changes = begun_earlier(set(&[("x", json!(1))]));
        // Even rounds delay the revocation, odd rounds the rotation, by 0-4 ms.
        let delay = Duration::from_micros((round / 2 % 5) * 1000);
        let (rotation_delay, revocation_delay) = if round % 2 == 0 {
            (Duration::ZERO, delay)
        } else {
            (delay, Duration::ZERO)
        };
        let rotation = async {
            tokio::time::sleep(rotation_delay).await;
            rotate(store, &from, &to, &changes, None).await
        };
        let revocation = async {
            tokio::time::sleep(revocation_delay).await;
            store
                .delete_sessions_of(&user, None)
                .await
                .expect("delete_sessions_of failed")
        };
        let (rotated, _) = tokio::join!(rotation, revocation);
        assert!(
            matches!(rotated, RotateOutcome::Rotated(_) | RotateOutcome::Missing),
            "{rotated:?}"
        );
        assert!(
            absent(store, &from).await,
            "the rotated-from session survived"
        );
        assert!(
            absent(store, &to).await,
            "the rotated-to session survived ({rotated:?})"
        );
        assert!(
            store
                .sessions_of(&user, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
                .is_empty()
        );
    }
}

/// After a revocation, writes begun before it cannot bind the user again: not a login
/// by rotation, not a login by `apply`, not a `create`; the same writes begun after it
/// succeed. The session the revocation kept still rotates.
pub async fn revocation_refuses_logins_begun_before_it(store: &dyn SessionStore) {
    let user = random_user();
    let kept = created(store, &owned_by(&user)).await;
    let anonymous = created(store, &live_record()).await;
    let other_anonymous = created(store, &live_record()).await;
    let began = Timestamp::now();
    assert_eq!(revoke(store, &user, Some(&kept)).await, 0);

    let mut login = set(&[]);
    login.user = Some(Some(user.clone()));
    login.authenticated_at = Some(began);
    login.began_at = began;
    let to = StoreKey::random();
    let outcome = rotate(store, &anonymous, &to, &login, None).await;
    assert_eq!(
        outcome,
        RotateOutcome::Missing,
        "rotation begun before a revocation"
    );
    assert!(absent(store, &to).await && absent(store, &anonymous).await);
    let applied = store
        .apply(&other_anonymous, &login, None)
        .await
        .expect("apply failed");
    assert_eq!(
        applied,
        ApplyOutcome::Missing,
        "apply begun before a revocation"
    );
    let mut record = owned_by(&user);
    record.authenticated_at = Some(began);
    let create = store
        .create(&StoreKey::random(), &record)
        .await
        .expect("create failed");
    assert_eq!(create, CreateOutcome::Revoked);

    let kept_to = StoreKey::random();
    let outcome = rotate(store, &kept, &kept_to, &begun_earlier(set(&[])), None).await;
    assert!(
        matches!(outcome, RotateOutcome::Rotated(_)),
        "kept session: {outcome:?}"
    );

    let now = Timestamp::now();
    let mut fresh = login.clone();
    fresh.began_at = now;
    fresh.authenticated_at = Some(now);
    let applied = store
        .apply(&other_anonymous, &fresh, None)
        .await
        .expect("apply failed");
    assert!(matches!(applied, ApplyOutcome::Applied(_)), "{applied:?}");
    record.authenticated_at = Some(now);
    let later = created(store, &record).await;
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&user, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        [kept_to, other_anonymous, later].into()
    );
}

/// `authenticated_at` survives create and load exactly.
pub async fn authenticated_at_round_trips(store: &dyn SessionStore) {
    let mut record = owned_by(&random_user());
    record.authenticated_at = Some(Timestamp::from_millis(record.created_at.as_millis() - 1234));
    let key = created(store, &record).await;
    assert_eq!(loaded(store, &key).await, record);
}

/// Logins begun before a revocation of their user, racing it many times — by rotation of
/// an anonymous session, by `apply` on one, and by `create` — never leave a live session
/// of that user, whichever goes first. (A store whose revocation reads one snapshot can
/// miss a row that becomes the user's while it runs: this case catches that.)
pub async fn logins_racing_a_revocation_never_survive(store: &dyn SessionStore) {
    for _ in 0..30 {
        let user = random_user();
        let mut login = begun_earlier(set(&[]));
        login.user = Some(Some(user.clone()));
        login.authenticated_at = Some(login.began_at);
        let anonymous = created(store, &live_record()).await;
        let other = created(store, &live_record()).await;
        let to = StoreKey::random();
        let mut record = owned_by(&user);
        record.authenticated_at = login.authenticated_at;
        let fresh = StoreKey::random();
        let (rotated, applied, made, revoked) = tokio::join!(
            store.rotate(&anonymous, &to, &login, None),
            store.apply(&other, &login, None),
            store.create(&fresh, &record),
            store.delete_sessions_of(&user, None),
        );
        let rotated = rotated.expect("rotate failed");
        assert!(
            matches!(rotated, RotateOutcome::Rotated(_) | RotateOutcome::Missing),
            "{rotated:?}"
        );
        let applied = applied.expect("apply failed");
        assert!(
            matches!(applied, ApplyOutcome::Applied(_) | ApplyOutcome::Missing),
            "{applied:?}"
        );
        let made = made.expect("create failed");
        assert!(
            matches!(made, CreateOutcome::Created | CreateOutcome::Revoked),
            "{made:?}"
        );
        revoked.expect("delete_sessions_of failed");
        let left = store
            .sessions_of(&user, &crate::PageRequest::default())
            .await
            .map(crate::SessionPage::into_sessions)
            .expect("sessions_of failed");
        assert!(left.is_empty(), "a login survived the revocation: {left:?}");
        for key in [&anonymous, &to, &fresh] {
            let got = store.load(key).await.expect("load failed");
            assert!(got.is_none_or(|r| r.user.is_none()), "{key:?} survived");
        }
    }
}

/// The session a revocation kept may still bind its user in a request begun before the
/// revocation (the request that asked to log out everywhere else), by `apply` and by
/// `rotate`; a live record under the key keeps `create` at `AlreadyExists` even for a
/// revoked user.
pub async fn revocation_spares_the_kept_session(store: &dyn SessionStore) {
    let user = random_user();
    let record = owned_by(&user);
    let kept = created(store, &record).await;
    let mut login = begun_earlier(set(&[]));
    login.user = Some(Some(user.clone()));
    login.authenticated_at = Some(login.began_at);
    assert_eq!(revoke(store, &user, Some(&kept)).await, 0);
    let applied = store
        .apply(&kept, &login, None)
        .await
        .expect("apply failed");
    assert_eq!(applied, ApplyOutcome::Applied(record.version + 1));
    let again = store.create(&kept, &record).await.expect("create failed");
    assert_eq!(again, CreateOutcome::AlreadyExists);
    let to = StoreKey::random();
    let rotated = rotate(store, &kept, &to, &login, None).await;
    assert_eq!(rotated, RotateOutcome::Rotated(record.version + 2));
    let left = store
        .sessions_of(&user, &crate::PageRequest::default())
        .await
        .map(crate::SessionPage::into_sessions)
        .expect("sessions_of failed");
    assert_eq!(keys_of(&left), [to].into());
}
