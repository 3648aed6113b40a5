//! The conformance cases of an Express-compatible layout ([`crate::express::ExpressStore`]):
//! the store contract minus what connect-* layouts cannot have (the per-user index and
//! revocation; data keys express-session reserves; integers beyond 2^53), plus the
//! interop rules: records written by Node load, foreign fields survive Rust writes,
//! what Node would lose is refused, and broken records are typed errors.

use serde_json::{Value, json};

use crate::express::{ConnectLayout, ExpressStore};
use crate::{
    ApplyOutcome, Changeset, CreateOutcome, RotateOutcome, SessionStore, StoreError, StoreKey,
    Timestamp,
};

use super::in_secs;

/// Expands to one `#[tokio::test]` per case that applies to an Express-compatible layout;
/// `$make` is a future yielding an `ExpressStore<L>`.
#[macro_export]
macro_rules! express_conformance_tests {
    ($make:expr) => {
        $crate::__conformance_cases!($make;
            native_expiry_or_prune_leaves_no_live_record,
            load_missing_is_none,
            create_then_load_round_trips,
            create_refuses_existing_key,
            expired_record_is_never_loaded,
            record_expires_while_stored,
            apply_sets_keys_and_bumps_version,
            apply_removes_keys,
            apply_removing_absent_key_is_harmless,
            apply_clear_then_set,
            apply_leaves_other_keys_alone,
            apply_moves_deadline,
            apply_on_missing_key_is_missing,
            apply_on_expired_record_is_missing,
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
            rotate_of_missing_or_expired_is_missing,
            strict_rotate_respects_version,
            rotate_onto_live_key_is_key_taken,
            rotate_racing_delete_is_linearizable,
            authenticated_at_round_trips,
            express_node_record_loads,
            express_foreign_fields_survive_rust_writes,
            express_reserved_keys_and_unsafe_integers_are_refused,
            express_broken_records_are_corrupt,
            express_user_index_is_unsupported,
            express_rotation_moves_the_record,
            express_listing_pages_through_every_session,
            express_awkward_keys_and_values_round_trip,
        );
    };
}

/// Writes `json` under a fresh sid as a Node app would have, live for an hour.
async fn node_wrote<L: ConnectLayout>(store: &ExpressStore<L>, json: &str) -> StoreKey {
    let key = StoreKey::random();
    let session: Value = serde_json::from_str(json).expect("test JSON");
    let inserted = store
        .layout()
        .insert(key.as_str(), &session, in_secs(3600))
        .await
        .expect("insert failed");
    assert!(inserted);
    key
}

/// `delete_expired` never removes a live record (whether the backend expires natively or
/// the layout prunes).
pub async fn native_expiry_or_prune_leaves_no_live_record(store: &dyn SessionStore) {
    let key = StoreKey::random();
    let record = super::live_record();
    assert_eq!(
        store.create(&key, &record).await.expect("create"),
        CreateOutcome::Created
    );
    store.delete_expired().await.expect("delete_expired failed");
    assert!(store.load(&key).await.expect("load").is_some());
}

/// A record as express-session writes it loads: user, data, persistence.
pub async fn express_node_record_loads<L: ConnectLayout>(store: &ExpressStore<L>) {
    let key = node_wrote(
        store,
        r#"{"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T21:32:16.403Z","httpOnly":true,"path":"/"},"user":"carol","n":7}"#,
    )
    .await;
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.user.as_deref(), Some("carol"));
    assert_eq!(record.data.get("n"), Some(&json!(7).into()));
    assert!(record.persistent);
    assert_eq!(record.version, 0);
}

/// Fields the Node app wrote and Rust never named survive a Rust write.
pub async fn express_foreign_fields_survive_rust_writes<L: ConnectLayout>(store: &ExpressStore<L>) {
    let key = node_wrote(
        store,
        r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/","priority":"high"},"passport":{"user":"x"},"flash":[]}"#,
    )
    .await;
    let mut changes = Changeset::new(in_secs(600));
    changes.set.insert("count".into(), json!(1).into());
    let outcome = store.apply(&key, &changes, None).await.expect("apply");
    assert_eq!(outcome, ApplyOutcome::Applied(1));
    let stored = store
        .layout()
        .read(key.as_str())
        .await
        .expect("read")
        .expect("live");
    assert_eq!(stored.session["passport"], json!({"user": "x"}));
    assert_eq!(stored.session["flash"], json!([]));
    assert_eq!(stored.session["count"], json!(1));
    assert_eq!(stored.session["cookie"]["priority"], json!("high"));
    assert_eq!(stored.session["cookie"]["expires"], Value::Null);
}

/// Data express-session would overwrite, drop or round is refused, and nothing is written.
pub async fn express_reserved_keys_and_unsafe_integers_are_refused<L: ConnectLayout>(
    store: &ExpressStore<L>,
) {
    let key = node_wrote(store, r#"{"cookie":{},"n":1}"#).await;
    for (k, v) in [
        ("cookie", json!({})),
        ("save", json!(1)),
        ("big", json!(u64::MAX)),
    ] {
        let mut changes = Changeset::new(in_secs(600));
        changes.set.insert(k.into(), v.into());
        let outcome = store.apply(&key, &changes, None).await;
        assert!(
            matches!(outcome, Err(StoreError::Encode(_))),
            "{k}: {outcome:?}"
        );
    }
    let record = store.load(&key).await.expect("load").expect("live");
    assert_eq!(record.data.get("n"), Some(&json!(1).into()));
    assert_eq!(record.version, 0);
}

/// Records express-session itself cannot use are `Corrupt`, never a panic.
pub async fn express_broken_records_are_corrupt<L: ConnectLayout>(store: &ExpressStore<L>) {
    for broken in [r#""just a string""#, "[1,2]", r#"{"cookie":"x"}"#] {
        let key = node_wrote(store, broken).await;
        let loaded = store.load(&key).await;
        assert!(
            matches!(loaded, Err(StoreError::Corrupt(_))),
            "{broken}: {loaded:?}"
        );
    }
}

/// No per-user index: listing and revoking are typed errors, not empty answers.
pub async fn express_user_index_is_unsupported<L: ConnectLayout>(store: &ExpressStore<L>) {
    assert!(
        store
            .sessions_of("anyone", &crate::PageRequest::first(10))
            .await
            .is_err()
    );
    assert!(store.delete_sessions_of("anyone", None).await.is_err());
}

/// A rotation moves a Node-written record to the new id with the changes applied and
/// leaves nothing under the old one.
pub async fn express_rotation_moves_the_record<L: ConnectLayout>(store: &ExpressStore<L>) {
    let from = node_wrote(store, r#"{"cookie":{"path":"/"},"cart":[1]}"#).await;
    let to = StoreKey::random();
    let mut changes = Changeset::new(in_secs(600));
    changes.user = Some(Some("dave".into()));
    changes.authenticated_at = Some(Timestamp::now());
    let outcome = store
        .rotate(&from, &to, &changes, None)
        .await
        .expect("rotate");
    assert_eq!(outcome, RotateOutcome::Rotated(1));
    assert!(store.load(&from).await.expect("load").is_none());
    let record = store.load(&to).await.expect("load").expect("live");
    assert_eq!(record.user.as_deref(), Some("dave"));
    assert_eq!(record.data.get("cart"), Some(&json!([1]).into()));
    assert_eq!(record.authenticated_at, changes.authenticated_at);
}

/// Paging through `list` from the start finds every stored session (the migration's walk).
pub async fn express_listing_pages_through_every_session<L: ConnectLayout>(
    store: &ExpressStore<L>,
) {
    let mut wanted = std::collections::BTreeSet::new();
    for _ in 0..7 {
        wanted.insert(
            node_wrote(store, r#"{"cookie":{}}"#)
                .await
                .as_str()
                .to_owned(),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let (sids, next) = store
            .layout()
            .list(cursor.take(), 3)
            .await
            .expect("list failed");
        seen.extend(sids);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(
        wanted.is_subset(&seen),
        "missing: {:?}",
        wanted.difference(&seen).collect::<Vec<_>>()
    );
}

/// Data keys with `.`, `$`, NUL, unicode, the empty string and 1 KiB, and values with
/// nesting, floats that need every digit, NUL in strings and 1 MiB, survive `create` and
/// `apply` exactly (what express-session reserves, and integers beyond 2^53, are refused
/// instead: see `express_reserved_keys_and_unsafe_integers_are_refused`).
pub async fn express_awkward_keys_and_values_round_trip<L: ConnectLayout>(store: &ExpressStore<L>) {
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
        "expires_at",
        "a\"b'c\\d",
        "{tag}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    keys.push("k".repeat(1024));
    let values = [
        json!({"a": [1, {"b": null, "c": [true, false]}], "d": {"e.f": "$g"}}),
        Value::Null,
        json!(9_007_199_254_740_991_i64),
        json!(-9_007_199_254_740_991_i64),
        json!(0.1 + 0.2),
        json!(1.5e303),
        json!(-4.9e-324),
        json!({}),
        json!([]),
        json!("a\0b"),
        json!("é中🎉"),
        json!("x".repeat(1 << 20)),
    ];
    let mut record = super::live_record();
    for (i, k) in keys.iter().enumerate() {
        record
            .data
            .insert(k.clone(), (&values[i % values.len()]).into());
    }
    let key = StoreKey::random();
    assert_eq!(
        store.create(&key, &record).await.expect("create"),
        CreateOutcome::Created
    );
    let got = store.load(&key).await.expect("load").expect("live");
    assert_eq!(got.data, record.data, "create/load changed the data");

    let other = StoreKey::random();
    let plain = super::live_record();
    assert_eq!(
        store.create(&other, &plain).await.expect("create"),
        CreateOutcome::Created
    );
    let mut changes = Changeset::new(in_secs(600));
    for (i, k) in keys.iter().enumerate() {
        changes
            .set
            .insert(k.clone(), (&values[(i + 3) % values.len()]).into());
    }
    assert!(matches!(
        store.apply(&other, &changes, None).await.expect("apply"),
        ApplyOutcome::Applied(_)
    ));
    let got = store.load(&other).await.expect("load").expect("live");
    for (k, v) in &changes.set {
        assert_eq!(got.data.get(k), Some(v), "apply changed {k:?}");
    }
}
