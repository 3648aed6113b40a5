//! The store conformance suite: one list of cases every [`SessionStore`] must pass.
//!
//! Enable the `test-suite` feature in your store crate's `[dev-dependencies]` and add one
//! line to a test file (the crate also needs `tokio` with `macros` and `rt-multi-thread`):
//!
//! ```text
//! session_core::store_conformance_tests!(my_store::connect_for_tests());
//! ```
//!
//! The argument is a future that yields a fresh store; it is awaited once per case, and
//! each case becomes its own `#[tokio::test]`. Cases use random keys and user names, so
//! they may share one backend and run in parallel.

mod express;
mod governance;
mod probe;
mod rotation;
pub mod scale;

/// The cookie internals, for tests that forge, plant or inspect cookies.
pub use crate::codec::{CookieCodec, CookieError, Verified};
/// The raw session id, for tests that plant or forge one.
pub use crate::id::SessionId;
pub use express::*;
pub use governance::*;
pub use probe::{Calls, ProbeStore};
pub use rotation::*;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    ApplyOutcome, Changeset, CreateOutcome, RawJson, Record, SessionStore, StoreKey, Timestamp,
};

/// Expands to one `#[tokio::test]` per conformance case, each awaiting `$make` for a store.
///
/// `store_conformance_tests!(make)` is for stores whose `delete_expired` does the removing
/// (it must report every expired record it removed); `store_conformance_tests!(make,
/// native_expiry)` for stores whose backend expires records by itself (`delete_expired`
/// then returns 0).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@cases $make; delete_expired_removes_expired_records);
    };
    ($make:expr, native_expiry) => {
        $crate::store_conformance_tests!(@cases $make; native_expiry_leaves_nothing_to_sweep);
    };
    (@cases $make:expr; $expiry_case:ident) => {
        $crate::__conformance_cases!($make;
            $expiry_case,
            load_missing_is_none,
            create_then_load_round_trips,
            create_refuses_existing_key,
            create_with_user_is_indexed,
            expired_record_is_never_loaded,
            record_expires_while_stored,
            apply_sets_keys_and_bumps_version,
            apply_removes_keys,
            apply_removing_absent_key_is_harmless,
            apply_clear_then_set,
            apply_leaves_other_keys_alone,
            apply_moves_deadline,
            apply_keeping_the_deadline_writes_the_data,
            apply_keeping_the_deadline_after_delete_is_missing,
            apply_keeping_the_deadline_on_expired_record_is_missing,
            concurrent_writes_keeping_the_deadline_all_survive,
            apply_on_missing_key_is_missing,
            apply_after_delete_does_not_resurrect,
            apply_on_expired_record_is_missing,
            apply_sets_and_clears_user,
            apply_changes_persistent_flag,
            strict_apply_with_current_version_applies,
            strict_apply_with_stale_version_conflicts,
            concurrent_distinct_keys_all_survive,
            concurrent_same_key_keeps_one_written_value,
            apply_with_a_stale_base_keeps_the_other_writes,
            apply_with_a_current_base_writes_the_whole_result,
            touch_moves_deadline_only,
            touch_missing_or_expired_is_false,
            delete_removes_record,
            delete_is_idempotent,
            sessions_of_lists_only_live_sessions_of_user,
            sessions_of_forgets_deleted_sessions,
            delete_sessions_of_except_keeps_current,
            delete_sessions_of_everything,
            awkward_user_names_are_indexed,
            awkward_keys_round_trip,
            awkward_values_round_trip,
            rotate_moves_record_and_applies_changes,
            rotate_switches_user_and_flushes,
            rotate_reauthenticating_same_user,
            rotate_after_delete_does_not_resurrect,
            rotate_of_missing_or_expired_is_missing,
            strict_rotate_respects_version,
            rotate_onto_live_key_is_key_taken,
            rotate_racing_delete_is_linearizable,
            revocation_wins_against_rotation_in_flight,
            revocation_refuses_logins_begun_before_it,
            authenticated_at_round_trips,
            logins_racing_a_revocation_never_survive,
            revocation_spares_the_kept_session,
            summaries_carry_account_metadata,
            last_seen_follows_writes_and_touches,
            label_changes_with_apply_and_survives_rotation,
            sessions_of_pages_newest_first,
            sessions_of_never_exceeds_the_page_maximum,
            delete_session_of_checks_the_owner,
            trim_keeps_the_most_recently_seen,
            concurrent_logins_end_within_the_cap,
            delete_sessions_of_signs_out_many,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($make:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $make.await;
                $crate::test_suite::$case(&store).await;
            }
        )*
    };
}

pub(crate) fn in_secs(secs: i64) -> Timestamp {
    Timestamp::from_millis(Timestamp::now().as_millis() + secs * 1000)
}

pub(crate) fn live_record() -> Record {
    let mut r = Record::new(Timestamp::now(), in_secs(3600), false);
    r.data.insert("greeting".into(), json!("hello").into());
    r.data.insert("n".into(), json!(1).into());
    r
}

pub(crate) fn random_user() -> String {
    format!("user-{}", &StoreKey::random().as_str()[..16])
}

pub(crate) async fn created(store: &dyn SessionStore, record: &Record) -> StoreKey {
    let key = StoreKey::random();
    let outcome = store.create(&key, record).await.expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    key
}

pub(crate) async fn loaded(store: &dyn SessionStore, key: &StoreKey) -> Record {
    store
        .load(key)
        .await
        .expect("load failed")
        .expect("record should exist")
}

async fn apply(store: &dyn SessionStore, key: &StoreKey, changes: &Changeset) -> ApplyOutcome {
    store.apply(key, changes, None).await.expect("apply failed")
}

pub(crate) fn set(pairs: &[(&str, Value)]) -> Changeset {
    let mut c = Changeset::new(in_secs(3600));
    for (k, v) in pairs {
        c.set.insert((*k).to_owned(), v.into());
    }
    c
}

pub(crate) fn keys_of(summaries: &[crate::SessionSummary]) -> BTreeSet<StoreKey> {
    summaries.iter().map(|s| s.key.clone()).collect()
}

/// `load` of an unknown key is `None`.
pub async fn load_missing_is_none(store: &dyn SessionStore) {
    assert_eq!(
        store.load(&StoreKey::random()).await.expect("load failed"),
        None
    );
}

/// Every field survives a create/load round trip exactly.
pub async fn create_then_load_round_trips(store: &dyn SessionStore) {
    let mut record = live_record();
    record.user = Some(random_user());
    record.persistent = true;
    record.version = 7;
    record.authenticated_at = Some(in_secs(-20));
    record.last_seen = in_secs(-10);
    record.label = Some("Firefox on Linux — ünïcode".into());
    let key = created(store, &record).await;
    assert_eq!(loaded(store, &key).await, record);
}

/// `create` on a live key reports `AlreadyExists` and leaves the stored record alone.
pub async fn create_refuses_existing_key(store: &dyn SessionStore) {
    let first = live_record();
    let key = created(store, &first).await;
    let mut second = live_record();
    second
        .data
        .insert("greeting".into(), json!("overwritten").into());
    let outcome = store.create(&key, &second).await.expect("create failed");
    assert_eq!(outcome, CreateOutcome::AlreadyExists);
    assert_eq!(loaded(store, &key).await, first);
}

/// A record created with a user shows up in that user's index.
pub async fn create_with_user_is_indexed(store: &dyn SessionStore) {
    let user = random_user();
    let mut record = live_record();
    record.user = Some(user.clone());
    let key = created(store, &record).await;
    let list = store
        .sessions_of(&user, &crate::PageRequest::default())
        .await
        .map(crate::SessionPage::into_sessions)
        .expect("sessions_of failed");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].key, key);
    assert_eq!(list[0].created_at, record.created_at);
    assert_eq!(list[0].expires_at, record.expires_at);
}

/// A record whose deadline has already passed is never returned.
pub async fn expired_record_is_never_loaded(store: &dyn SessionStore) {
    let mut record = live_record();
    record.expires_at = in_secs(-5);
    let key = StoreKey::random();
    assert_eq!(
        store.create(&key, &record).await.expect("create failed"),
        CreateOutcome::Created
    );
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

/// A record stops loading once its deadline passes while it is stored.
pub async fn record_expires_while_stored(store: &dyn SessionStore) {
    let mut record = live_record();
    record.expires_at = Timestamp::now().add(Duration::from_millis(1500));
    let key = created(store, &record).await;
    assert!(store.load(&key).await.expect("load failed").is_some());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

/// `apply` writes the set keys and bumps the version by one.
pub async fn apply_sets_keys_and_bumps_version(store: &dyn SessionStore) {
    let record = live_record();
    let key = created(store, &record).await;
    let changes = set(&[("a", json!(1)), ("n", json!(2))]);
    assert_eq!(apply(store, &key, &changes).await, ApplyOutcome::Applied(2));
    let mut expected = record;
    expected.apply(&changes);
    assert_eq!(loaded(store, &key).await, expected);
}

/// `apply` deletes the removed keys.
pub async fn apply_removes_keys(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    let mut changes = set(&[]);
    changes.removed.insert("greeting".into());
    assert_eq!(apply(store, &key, &changes).await, ApplyOutcome::Applied(2));
    let got = loaded(store, &key).await;
    assert!(!got.data.contains_key("greeting"));
    assert_eq!(got.data.get("n"), Some(&json!(1).into()));
}

/// Removing a key that is not there changes nothing else.
pub async fn apply_removing_absent_key_is_harmless(store: &dyn SessionStore) {
    let record = live_record();
    let key = created(store, &record).await;
    let mut changes = set(&[]);
    changes.removed.insert("never-set".into());
    assert_eq!(apply(store, &key, &changes).await, ApplyOutcome::Applied(2));
    assert_eq!(loaded(store, &key).await.data, record.data);
}

/// `cleared` drops every key, then `set` applies.
pub async fn apply_clear_then_set(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    let mut changes = set(&[("fresh", json!(true))]);
    changes.cleared = true;
    assert_eq!(apply(store, &key, &changes).await, ApplyOutcome::Applied(2));
    let got = loaded(store, &key).await;
    assert_eq!(got.data.len(), 1);
    assert_eq!(got.data.get("fresh"), Some(&json!(true).into()));
}

/// Keys not named in a changeset are not rewritten from a stale copy.
pub async fn apply_leaves_other_keys_alone(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    assert!(matches!(
        apply(store, &key, &set(&[("a", json!("from request 1"))])).await,
        ApplyOutcome::Applied(_)
    ));
    assert!(matches!(
        apply(store, &key, &set(&[("b", json!("from request 2"))])).await,
        ApplyOutcome::Applied(_)
    ));
    let got = loaded(store, &key).await;
    assert_eq!(got.data.get("a"), Some(&json!("from request 1").into()));
    assert_eq!(got.data.get("b"), Some(&json!("from request 2").into()));
    assert_eq!(got.data.get("greeting"), Some(&json!("hello").into()));
    assert_eq!(got.version, 3);
}

/// `apply` moves the deadline to the changeset's.
pub async fn apply_moves_deadline(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    let mut changes = set(&[("a", json!(1))]);
    changes.expires_at = in_secs(7200);
    assert!(matches!(
        apply(store, &key, &changes).await,
        ApplyOutcome::Applied(_)
    ));
    assert_eq!(loaded(store, &key).await.expires_at, changes.expires_at);
}

/// A changeset as the manager builds it for a write inside `touch_after`: `expires_at` is
/// the deadline as loaded and `keeps_deadline` is set.
fn keeping(deadline: Timestamp, pairs: &[(&str, Value)]) -> Changeset {
    let mut changes = set(pairs);
    changes.expires_at = deadline;
    changes.keeps_deadline = true;
    changes
}

/// `apply` with `keeps_deadline` (the manager's write inside `touch_after`, `expires_at`
/// as loaded) writes everything it carries (data set and removed, "remember me", label,
/// `last_seen`, a version bump) and leaves the session live until that same deadline,
/// whether the store skips the deadline or writes it again.
pub async fn apply_keeping_the_deadline_writes_the_data(store: &dyn SessionStore) {
    let mut record = live_record();
    record.data.insert("gone".into(), json!("soon").into());
    record.label = Some("old label".into());
    let key = created(store, &record).await;
    let mut changes = keeping(record.expires_at, &[("a", json!(1))]);
    changes.removed.insert("gone".into());
    changes.persistent = Some(true);
    changes.label = Some(Some("Firefox on Linux".into()));
    assert_eq!(apply(store, &key, &changes).await, ApplyOutcome::Applied(2));
    let got = loaded(store, &key).await;
    assert_eq!(got.data.get("a"), Some(&json!(1).into()));
    assert_eq!(got.data.get("gone"), None);
    assert_eq!(got.data.get("greeting"), Some(&json!("hello").into()));
    assert_eq!(got.expires_at, record.expires_at);
    assert_eq!(got.version, 2);
    assert!(got.persistent);
    assert_eq!(got.label.as_deref(), Some("Firefox on Linux"));
    assert_eq!(got.last_seen, changes.began_at);

    let mut unlabel = keeping(record.expires_at, &[]);
    unlabel.label = Some(None);
    assert_eq!(apply(store, &key, &unlabel).await, ApplyOutcome::Applied(3));
    assert_eq!(loaded(store, &key).await.label, None);
}

/// A write inside `touch_after` that arrives after a logout is `Missing`, brings nothing
/// back, and neither does a second one (a store that leaves anything behind must not
/// mistake it for a session).
pub async fn apply_keeping_the_deadline_after_delete_is_missing(store: &dyn SessionStore) {
    let record = live_record();
    let key = created(store, &record).await;
    store.delete(&key).await.expect("delete failed");
    for attempt in ["first", "second"] {
        let changes = keeping(record.expires_at, &[("late", json!(attempt))]);
        assert_eq!(
            apply(store, &key, &changes).await,
            ApplyOutcome::Missing,
            "{attempt} late write"
        );
        assert_eq!(store.load(&key).await.expect("load failed"), None);
        assert!(
            !store
                .touch(&key, in_secs(7200))
                .await
                .expect("touch failed")
        );
    }
    assert_eq!(
        apply(store, &key, &set(&[("later", json!(1))])).await,
        ApplyOutcome::Missing
    );
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

/// A write inside `touch_after` on a session whose deadline has passed is `Missing`.
pub async fn apply_keeping_the_deadline_on_expired_record_is_missing(store: &dyn SessionStore) {
    let mut record = live_record();
    record.expires_at = in_secs(-5);
    let key = StoreKey::random();
    assert_eq!(
        store.create(&key, &record).await.expect("create failed"),
        CreateOutcome::Created
    );
    let changes = keeping(record.expires_at, &[("a", json!(1))]);
    assert_eq!(apply(store, &key, &changes).await, ApplyOutcome::Missing);
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

/// 50 concurrent writes inside `touch_after`, one distinct key each: every key survives and
/// every write bumped the version once.
pub async fn concurrent_writes_keeping_the_deadline_all_survive(store: &dyn SessionStore) {
    let record = live_record();
    let key = created(store, &record).await;
    let (versions, got) = fifty_distinct_writers(store, &key, Some(record.expires_at)).await;
    let distinct: BTreeSet<u64> = versions.iter().copied().collect();
    assert_eq!(
        versions.len(),
        distinct.len(),
        "a version twice: {versions:?}"
    );
    assert_eq!(distinct, (2..=51).collect::<BTreeSet<u64>>());
    assert_eq!(got.expires_at, record.expires_at);
}

/// `apply` on an unknown key is `Missing` and creates nothing.
pub async fn apply_on_missing_key_is_missing(store: &dyn SessionStore) {
    let key = StoreKey::random();
    assert_eq!(
        apply(store, &key, &set(&[("a", json!(1))])).await,
        ApplyOutcome::Missing
    );
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

/// A session deleted by a concurrent logout is not brought back by a late write.
pub async fn apply_after_delete_does_not_resurrect(store: &dyn SessionStore) {
    let user = random_user();
    let mut record = live_record();
    record.user = Some(user.clone());
    let key = created(store, &record).await;
    store.delete(&key).await.expect("delete failed");
    assert_eq!(
        apply(store, &key, &set(&[("late", json!(1))])).await,
        ApplyOutcome::Missing
    );
    assert_eq!(store.load(&key).await.expect("load failed"), None);
    assert!(
        store
            .sessions_of(&user, &crate::PageRequest::default())
            .await
            .map(crate::SessionPage::into_sessions)
            .expect("sessions_of failed")
            .is_empty()
    );
}

/// `apply` on an expired record is `Missing`, in strict mode too.
pub async fn apply_on_expired_record_is_missing(store: &dyn SessionStore) {
    let mut record = live_record();
    record.expires_at = in_secs(-5);
    let key = StoreKey::random();
    assert_eq!(
        store.create(&key, &record).await.expect("create failed"),
        CreateOutcome::Created
    );
    assert_eq!(
        apply(store, &key, &set(&[("a", json!(1))])).await,
        ApplyOutcome::Missing
    );
    let strict = store.apply(&key, &set(&[("a", json!(1))]), Some(1)).await;
    assert_eq!(strict.expect("apply failed"), ApplyOutcome::Missing);
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

/// `apply` can attach a session to a user and detach it again, and the index follows.
pub async fn apply_sets_and_clears_user(store: &dyn SessionStore) {
    let user = random_user();
    let key = created(store, &live_record()).await;
    let mut login = set(&[]);
    login.user = Some(Some(user.clone()));
    assert!(matches!(
        apply(store, &key, &login).await,
        ApplyOutcome::Applied(_)
    ));
    assert_eq!(
        loaded(store, &key).await.user.as_deref(),
        Some(user.as_str())
    );
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&user, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        [key.clone()].into()
    );
    let mut logout = set(&[]);
    logout.user = Some(None);
    assert!(matches!(
        apply(store, &key, &logout).await,
        ApplyOutcome::Applied(_)
    ));
    assert_eq!(loaded(store, &key).await.user, None);
    assert!(
        store
            .sessions_of(&user, &crate::PageRequest::default())
            .await
            .map(crate::SessionPage::into_sessions)
            .expect("sessions_of")
            .is_empty()
    );
}

/// The "remember me" flag is stored and changed by `apply`.
pub async fn apply_changes_persistent_flag(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    let mut changes = set(&[]);
    changes.persistent = Some(true);
    assert!(matches!(
        apply(store, &key, &changes).await,
        ApplyOutcome::Applied(_)
    ));
    assert!(loaded(store, &key).await.persistent);
    changes.persistent = Some(false);
    assert!(matches!(
        apply(store, &key, &changes).await,
        ApplyOutcome::Applied(_)
    ));
    assert!(!loaded(store, &key).await.persistent);
}

/// Strict mode with the current version applies.
pub async fn strict_apply_with_current_version_applies(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    let outcome = store.apply(&key, &set(&[("a", json!(1))]), Some(1)).await;
    assert_eq!(outcome.expect("apply failed"), ApplyOutcome::Applied(2));
    let outcome = store.apply(&key, &set(&[("a", json!(2))]), Some(2)).await;
    assert_eq!(outcome.expect("apply failed"), ApplyOutcome::Applied(3));
    assert_eq!(
        loaded(store, &key).await.data.get("a"),
        Some(&json!(2).into())
    );
}

/// Strict mode with a stale version is a `Conflict` and writes nothing.
pub async fn strict_apply_with_stale_version_conflicts(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    assert!(matches!(
        apply(store, &key, &set(&[("a", json!("first"))])).await,
        ApplyOutcome::Applied(_)
    ));
    let outcome = store
        .apply(&key, &set(&[("a", json!("stale"))]), Some(1))
        .await;
    assert_eq!(outcome.expect("apply failed"), ApplyOutcome::Conflict);
    let got = loaded(store, &key).await;
    assert_eq!(got.data.get("a"), Some(&json!("first").into()));
    assert_eq!(got.version, 2);
}

/// 50 concurrent writers of 50 distinct keys (inside `touch_after` when `kept` names the
/// deadline kept): every write applies and every key survives at version 51. Returns the
/// versions the writes reported and the record loaded afterwards.
async fn fifty_distinct_writers(
    store: &dyn SessionStore,
    key: &StoreKey,
    kept: Option<Timestamp>,
) -> (Vec<u64>, Record) {
    // Every writer loaded the same version, as concurrent requests do; a store that writes
    // `unchanged ∪ set` whole must notice that 49 of them are stale by the time they land.
    let loaded_at = loaded(store, key).await;
    let loaded_at = &loaded_at;
    let writes = (0..50).map(|i| async move {
        let name = format!("k{i}");
        let pair = [(name.as_str(), json!(i))];
        let mut changes = match kept {
            Some(deadline) => keeping(deadline, &pair),
            None => set(&pair),
        };
        changes.base = Some(crate::Base {
            version: loaded_at.version,
            unchanged: loaded_at.data.clone(),
        });
        store.apply(key, &changes, None).await
    });
    let mut versions = Vec::new();
    for outcome in futures_join_all(writes).await {
        match outcome.expect("apply failed") {
            ApplyOutcome::Applied(v) => versions.push(v),
            other => panic!("a concurrent write was {other:?}"),
        }
    }
    let got = loaded(store, key).await;
    for (k, v) in &loaded_at.data {
        assert_eq!(got.data.get(k), Some(v), "untouched {k} changed");
    }
    for i in 0..50 {
        assert_eq!(
            got.data.get(&format!("k{i}")),
            Some(&json!(i).into()),
            "k{i} was lost"
        );
    }
    assert_eq!(got.version, 51);
    (versions, got)
}

/// 50 concurrent writers of 50 distinct keys: every key survives.
pub async fn concurrent_distinct_keys_all_survive(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    fifty_distinct_writers(store, &key, None).await;
}

/// A write computed from an older version (its [`crate::Base`] is stale) changes only
/// its own keys: a key another writer changed since keeps that writer's value, and a key
/// it removed stays removed.
pub async fn apply_with_a_stale_base_keeps_the_other_writes(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    let first = loaded(store, &key).await;
    let base = |unchanged: &[&str]| crate::Base {
        version: first.version,
        unchanged: unchanged
            .iter()
            .map(|k| ((*k).to_owned(), first.data[*k].clone()))
            .collect(),
    };
    let mut earlier = set(&[("n", json!(2))]);
    earlier.removed.insert("greeting".into());
    earlier.base = Some(base(&[]));
    assert!(matches!(
        apply(store, &key, &earlier).await,
        ApplyOutcome::Applied(_)
    ));
    let mut later = set(&[("other", json!(true))]);
    later.base = Some(base(&["greeting", "n"]));
    assert!(matches!(
        apply(store, &key, &later).await,
        ApplyOutcome::Applied(_)
    ));
    let got = loaded(store, &key).await;
    let expected: crate::Data = [("n", json!(2)), ("other", json!(true))]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect();
    assert_eq!(got.data, expected);
    assert_eq!(got.version, 3);
}

/// A write whose [`crate::Base`] is current leaves exactly `unchanged` ∪ `set`.
pub async fn apply_with_a_current_base_writes_the_whole_result(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    let first = loaded(store, &key).await;
    let mut changes = set(&[("n", json!(7)), ("added", json!([1, 2]))]);
    changes.removed.insert("greeting".into());
    changes.base = Some(crate::Base {
        version: first.version,
        unchanged: crate::Data::new(),
    });
    assert_eq!(apply(store, &key, &changes).await, ApplyOutcome::Applied(2));
    let mut cleared = set(&[("fresh", json!("x"))]);
    cleared.cleared = true;
    cleared.base = Some(crate::Base {
        version: 2,
        unchanged: crate::Data::new(),
    });
    assert_eq!(apply(store, &key, &cleared).await, ApplyOutcome::Applied(3));
    let got = loaded(store, &key).await;
    assert_eq!(got.data.len(), 1, "{:?}", got.data);
    assert_eq!(got.data.get("fresh"), Some(&json!("x").into()));
}

/// Concurrent writers of one key: the key ends with one of the written values.
pub async fn concurrent_same_key_keeps_one_written_value(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    let writes = (0..20).map(|i| {
        let key = key.clone();
        async move { store.apply(&key, &set(&[("shared", json!(i))]), None).await }
    });
    for outcome in futures_join_all(writes).await {
        assert!(matches!(
            outcome.expect("apply failed"),
            ApplyOutcome::Applied(_)
        ));
    }
    let got = loaded(store, &key).await;
    let value = got
        .data
        .get("shared")
        .and_then(|v| v.decode::<i64>().ok())
        .expect("shared missing");
    assert!((0..20).contains(&value));
    assert_eq!(got.version, 21);
}

/// `touch` moves the deadline and changes neither data nor version.
pub async fn touch_moves_deadline_only(store: &dyn SessionStore) {
    let record = live_record();
    let key = created(store, &record).await;
    let deadline = in_secs(9000);
    assert!(store.touch(&key, deadline).await.expect("touch failed"));
    let got = loaded(store, &key).await;
    assert_eq!(got.expires_at, deadline);
    assert_eq!(got.data, record.data);
    assert_eq!(got.version, record.version);
}

/// `touch` on an unknown or expired key is `false` and revives nothing.
pub async fn touch_missing_or_expired_is_false(store: &dyn SessionStore) {
    assert!(
        !store
            .touch(&StoreKey::random(), in_secs(60))
            .await
            .expect("touch failed")
    );
    let mut record = live_record();
    record.expires_at = in_secs(-5);
    let key = StoreKey::random();
    assert_eq!(
        store.create(&key, &record).await.expect("create failed"),
        CreateOutcome::Created
    );
    assert!(!store.touch(&key, in_secs(60)).await.expect("touch failed"));
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

/// `delete` removes the record.
pub async fn delete_removes_record(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    store.delete(&key).await.expect("delete failed");
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

/// Deleting twice, or deleting an unknown key, is fine.
pub async fn delete_is_idempotent(store: &dyn SessionStore) {
    let key = created(store, &live_record()).await;
    store.delete(&key).await.expect("first delete failed");
    store.delete(&key).await.expect("second delete failed");
    store
        .delete(&StoreKey::random())
        .await
        .expect("delete of unknown key failed");
}

/// Ten expired and ten live records; `delete_expired` must report removing at least the
/// ten expired ones (the cases of this suite run in parallel and add more, but only this
/// one sweeps), leave every live record exactly as it was, and the expired ones stay
/// unloadable. A `delete_expired` that does nothing fails here, although `load` already
/// hides expired records.
pub async fn delete_expired_removes_expired_records(store: &dyn SessionStore) {
    let (live, dead) = live_and_dead(store).await;
    let removed = store.delete_expired().await.expect("delete_expired failed");
    assert!(
        removed >= dead.len() as u64,
        "delete_expired removed {removed}, but {} records of this case had expired",
        dead.len()
    );
    check_live_and_dead(store, &live, &dead).await;
}

/// For a backend that expires records by itself: `delete_expired` has nothing to do (0)
/// and touches no live record.
pub async fn native_expiry_leaves_nothing_to_sweep(store: &dyn SessionStore) {
    let (live, dead) = live_and_dead(store).await;
    assert_eq!(
        store.delete_expired().await.expect("delete_expired failed"),
        0
    );
    check_live_and_dead(store, &live, &dead).await;
}

async fn live_and_dead(store: &dyn SessionStore) -> (Vec<(StoreKey, Record)>, Vec<StoreKey>) {
    let mut live = Vec::new();
    let mut dead = Vec::new();
    for i in 0..20 {
        let mut record = live_record();
        if i % 2 == 0 {
            record.expires_at = in_secs(-5);
            let key = StoreKey::random();
            let outcome = store.create(&key, &record).await.expect("create failed");
            assert_eq!(outcome, CreateOutcome::Created);
            dead.push(key);
        } else {
            live.push((created(store, &record).await, record));
        }
    }
    (live, dead)
}

async fn check_live_and_dead(
    store: &dyn SessionStore,
    live: &[(StoreKey, Record)],
    dead: &[StoreKey],
) {
    for (key, record) in live {
        assert_eq!(&loaded(store, key).await, record);
    }
    for key in dead {
        assert_eq!(store.load(key).await.expect("load failed"), None);
    }
}

/// `sessions_of` lists the user's live sessions, not other users' nor expired ones.
pub async fn sessions_of_lists_only_live_sessions_of_user(store: &dyn SessionStore) {
    let (alice, bob) = (random_user(), random_user());
    let mut mine = BTreeSet::new();
    for _ in 0..3 {
        let mut record = live_record();
        record.user = Some(alice.clone());
        mine.insert(created(store, &record).await);
    }
    let mut expired = live_record();
    expired.user = Some(alice.clone());
    expired.expires_at = in_secs(-5);
    let outcome = store
        .create(&StoreKey::random(), &expired)
        .await
        .expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    let mut other = live_record();
    other.user = Some(bob.clone());
    let bobs = created(store, &other).await;
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&alice, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        mine
    );
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&bob, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        [bobs].into()
    );
    assert!(
        store
            .sessions_of(&random_user(), &crate::PageRequest::default())
            .await
            .map(crate::SessionPage::into_sessions)
            .expect("sessions_of")
            .is_empty()
    );
}

/// A deleted session leaves its user's index.
pub async fn sessions_of_forgets_deleted_sessions(store: &dyn SessionStore) {
    let user = random_user();
    let mut record = live_record();
    record.user = Some(user.clone());
    let gone = created(store, &record).await;
    let kept = created(store, &record).await;
    store.delete(&gone).await.expect("delete failed");
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&user, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        [kept].into()
    );
}

/// "Log out everywhere else": every session of the user but the current one goes.
pub async fn delete_sessions_of_except_keeps_current(store: &dyn SessionStore) {
    let (user, other) = (random_user(), random_user());
    let mut record = live_record();
    record.user = Some(user.clone());
    let current = created(store, &record).await;
    let mut rest = Vec::new();
    for _ in 0..4 {
        rest.push(created(store, &record).await);
    }
    let mut bystander = live_record();
    bystander.user = Some(other.clone());
    let bystander_key = created(store, &bystander).await;
    let n = store
        .delete_sessions_of(&user, Some(&current))
        .await
        .expect("delete_sessions_of");
    assert_eq!(n, 4);
    assert!(store.load(&current).await.expect("load failed").is_some());
    for key in &rest {
        assert_eq!(store.load(key).await.expect("load failed"), None);
    }
    assert!(
        store
            .load(&bystander_key)
            .await
            .expect("load failed")
            .is_some()
    );
    assert_eq!(
        keys_of(
            &store
                .sessions_of(&user, &crate::PageRequest::default())
                .await
                .map(crate::SessionPage::into_sessions)
                .expect("sessions_of")
        ),
        [current].into()
    );
}

/// "Log out everywhere": with no exception every session of the user goes.
pub async fn delete_sessions_of_everything(store: &dyn SessionStore) {
    let user = random_user();
    let mut record = live_record();
    record.user = Some(user.clone());
    let keys = [created(store, &record).await, created(store, &record).await];
    assert_eq!(
        store
            .delete_sessions_of(&user, None)
            .await
            .expect("delete_sessions_of"),
        2
    );
    for key in &keys {
        assert_eq!(store.load(key).await.expect("load failed"), None);
    }
    assert_eq!(
        store
            .delete_sessions_of(&user, None)
            .await
            .expect("delete_sessions_of"),
        0
    );
}

/// User names with separators, braces, dots and non-ASCII characters index correctly.
pub async fn awkward_user_names_are_indexed(store: &dyn SessionStore) {
    let suffix = random_user();
    for name in [
        "a.b$c",
        "{slot}:x",
        "名前 with space",
        "colon:and\"quote",
        "nul\0byte",
    ] {
        let user = format!("{name}-{suffix}");
        let mut record = live_record();
        record.user = Some(user.clone());
        let key = created(store, &record).await;
        assert_eq!(
            keys_of(
                &store
                    .sessions_of(&user, &crate::PageRequest::default())
                    .await
                    .map(crate::SessionPage::into_sessions)
                    .expect("sessions_of")
            ),
            [key.clone()].into(),
            "{user:?}"
        );
        assert_eq!(loaded(store, &key).await.user, Some(user));
    }
}

fn awkward_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        ".",
        "$",
        "a.b.c",
        "$set",
        "nul\0key",
        "ключ🔑",
        "",
        " ",
        "data",
        "_id",
        "version",
        "user",
        "expires_at",
        "__proto__",
        "a\"b'c\\d",
        "{tag}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    keys.push("k".repeat(1024));
    keys
}

/// Data keys with `.`, `$`, NUL, unicode, the empty string, metadata names and 1 KiB
/// survive both `create` and `apply`, and can be removed again.
pub async fn awkward_keys_round_trip(store: &dyn SessionStore) {
    let mut record = live_record();
    for (i, k) in awkward_keys().into_iter().enumerate() {
        record.data.insert(k, json!(i).into());
    }
    let key = created(store, &record).await;
    assert_eq!(loaded(store, &key).await.data, record.data);

    let other = created(store, &live_record()).await;
    let mut changes = set(&[]);
    for (i, k) in awkward_keys().into_iter().enumerate() {
        changes.set.insert(k, json!({ "i": i }).into());
    }
    assert!(matches!(
        apply(store, &other, &changes).await,
        ApplyOutcome::Applied(_)
    ));
    let got = loaded(store, &other).await;
    for k in awkward_keys() {
        assert!(got.data.contains_key(&k), "key {k:?} lost by apply");
    }
    let mut removal = set(&[]);
    removal.removed = awkward_keys().into_iter().collect();
    assert!(matches!(
        apply(store, &other, &removal).await,
        ApplyOutcome::Applied(_)
    ));
    let got = loaded(store, &other).await;
    assert_eq!(
        got.data.len(),
        2,
        "only the original keys remain: {:?}",
        got.data.keys()
    );
}

/// Nested JSON, null, extreme integers, floats that need every digit, NUL in strings and a 1 MiB string survive exactly.
pub async fn awkward_values_round_trip(store: &dyn SessionStore) {
    let values = [
        (
            "nested",
            json!({"a": [1, {"b": null, "c": [true, false]}], "d": {"e.f": "$g"}}),
        ),
        ("null", Value::Null),
        ("u64max", json!(u64::MAX)),
        ("i64min", json!(i64::MIN)),
        ("float", json!(1.5)),
        ("float_exact", json!(0.1 + 0.2)),
        ("float_huge", json!(1.5e303)),
        ("float_tiny", json!(-4.9e-324)),
        ("empty_obj", json!({})),
        ("empty_arr", json!([])),
        ("nul_string", json!("a\0b")),
        ("unicode", json!("é中🎉")),
        ("big", json!("x".repeat(1 << 20))),
    ];
    let mut record = live_record();
    for (k, v) in &values {
        record.data.insert((*k).to_owned(), v.into());
    }
    let key = created(store, &record).await;
    assert_eq!(loaded(store, &key).await.data, record.data);

    let other = created(store, &live_record()).await;
    assert!(matches!(
        apply(store, &other, &set(&values)).await,
        ApplyOutcome::Applied(_)
    ));
    let got = loaded(store, &other).await;
    for (k, v) in &values {
        assert_eq!(
            got.data.get(*k),
            Some(&RawJson::from(v)),
            "value of {k:?} changed by apply"
        );
    }
}

/// Runs futures concurrently on the current runtime and collects their outputs in order.
pub(crate) async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future,
{
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    // Poll them all together: a tiny join_all, so the suite needs no `futures` crate.
    let mut outputs: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => outputs[i] = Some(out),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
