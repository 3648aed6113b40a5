//! What the store leaves in Redis itself: native expiry, and how it treats data it did not
//! write (standalone server, `REDIS_URL`).

mod common;

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::json;
use session_core::{
    Timestamp,
    store::{CreateOutcome, Record, SessionStore, StoreError, StoreKey},
};

fn record_until(expires_at: Timestamp) -> Record {
    let mut record = Record::new(Timestamp::now(), expires_at, false);
    record.data.insert("greeting".into(), json!("hello").into());
    record
}

#[tokio::test]
async fn redis_itself_drops_the_hash_at_the_deadline() {
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let key = StoreKey::random();
    let deadline = Timestamp::now().add(Duration::from_secs(1));
    let mut record = record_until(deadline);
    record.user = Some("ttl-user".into());
    let created = store.create(&key, &record).await.expect("create failed");
    assert_eq!(created, CreateOutcome::Created);
    let hash = format!("{prefix}{key}");
    let exists: i64 = raw.exists(&hash).await.expect("EXISTS failed");
    assert_eq!(
        exists, 1,
        "the session hash should exist before its deadline"
    );
    let pexpiretime: i64 = redis::cmd("PEXPIRETIME")
        .arg(&hash)
        .query_async(&mut raw)
        .await
        .expect("PEXPIRETIME failed");
    assert_eq!(
        pexpiretime,
        deadline.as_millis(),
        "PEXPIREAT is the record's deadline"
    );
    let index_ttl: i64 = raw
        .pttl(format!("{prefix}user:{}", sha256_hex("ttl-user")))
        .await
        .expect("PTTL failed");
    assert!(
        index_ttl > 0,
        "the user index expires by itself too (PTTL {index_ttl})"
    );

    tokio::time::sleep(Timestamp::now().until(deadline) + Duration::from_millis(50)).await;
    // EXISTS expires the key lazily if the active cycle has not yet; poll briefly anyway.
    let waited = Instant::now();
    loop {
        let exists: i64 = raw.exists(&hash).await.expect("EXISTS failed");
        if exists == 0 {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "Redis still holds the hash 5 s after its deadline"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.load(&key).await.expect("load failed"), None);
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Creates a live session, lets `spoil` change its hash behind the store's back, and
/// returns what `load` says then.
async fn load_after(
    spoil: &[(&str, &[u8])],
    remove: &[&str],
) -> Result<Option<Record>, StoreError> {
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let key = StoreKey::random();
    let record = record_until(Timestamp::now().add(Duration::from_secs(60)));
    let created = store.create(&key, &record).await.expect("create failed");
    assert_eq!(created, CreateOutcome::Created);
    let hash = format!("{prefix}{key}");
    for (field, value) in spoil {
        let _: i64 = raw.hset(&hash, *field, *value).await.expect("HSET failed");
    }
    for field in remove {
        let _: i64 = raw.hdel(&hash, *field).await.expect("HDEL failed");
    }
    store.load(&key).await
}

#[tokio::test]
async fn garbage_in_a_data_field_is_corrupt() {
    let got = load_after(&[("d:greeting", b"{not json")], &[]).await;
    assert!(matches!(got, Err(StoreError::Corrupt(_))), "{got:?}");
}

#[tokio::test]
async fn garbage_in_the_packed_data_is_corrupt() {
    for packed in [
        &b"x"[..],
        b"9:short",
        b"1:k",
        b"1:k5:[1]",
        b"1:k1:{",
        b"1:\xff1:1",
        b"-1:k1:1",
        // Counts that end inside a character, of the key and of the value.
        b"1:\xc3\xa91:1",
        b"1:k2:\"\xc3\xa9\"",
    ] {
        let got = load_after(&[("D0", packed)], &[]).await;
        assert!(
            matches!(got, Err(StoreError::Corrupt(_))),
            "{:?}: {got:?}",
            String::from_utf8_lossy(packed)
        );
    }
}

#[tokio::test]
async fn missing_or_garbled_metadata_is_corrupt() {
    for (spoil, remove) in [
        (&[][..], &["c"][..]),
        (&[][..], &["v"][..]),
        (&[("e", &b"tomorrow"[..])][..], &[][..]),
        (&[("p", &b"yes"[..])][..], &[][..]),
        (&[("u", &b"\xff\xfe"[..])][..], &[][..]),
        (&[("stray", &b"1"[..])][..], &[][..]),
        (&[("w", &b"Dmissing"[..])][..], &[][..]),
    ] {
        let got = load_after(spoil, remove).await;
        assert!(
            matches!(got, Err(StoreError::Corrupt(_))),
            "set {spoil:?} / removed {remove:?}: {got:?}"
        );
    }
}

#[tokio::test]
async fn data_keys_cannot_shadow_metadata() {
    let (store, _) = common::standalone_with_prefix().await;
    let key = StoreKey::random();
    let mut record = record_until(Timestamp::now().add(Duration::from_secs(60)));
    for name in [
        "v", "c", "e", "u", "p", "i", "w", "D0", "d:", "d:d:x", "3:abc",
    ] {
        record.data.insert(name.into(), json!(name).into());
    }
    let created = store.create(&key, &record).await.expect("create failed");
    assert_eq!(created, CreateOutcome::Created);
    assert_eq!(store.load(&key).await.expect("load failed"), Some(record));
}

#[tokio::test]
async fn index_entry_is_extended_before_the_deadline_passes_it() {
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let user = format!("horizon-{}", &StoreKey::random().as_str()[..8]);
    let index = format!("{prefix}user:{}", sha256_hex(&user));
    let key = StoreKey::random();
    let hash = format!("{prefix}{key}");
    let mut record = record_until(Timestamp::now().add(Duration::from_secs(60)));
    record.user = Some(user.clone());
    let created = store.create(&key, &record).await.expect("create failed");
    assert_eq!(created, CreateOutcome::Created);
    let first: f64 = raw
        .zscore(&index, key.as_str())
        .await
        .expect("ZSCORE failed");
    assert!(first >= record.expires_at.as_millis() as f64);

    // Far past the horizon: the index entry must move first, for touch and apply alike.
    let later = Timestamp::now().add(Duration::from_secs(3600));
    assert!(store.touch(&key, later).await.expect("touch failed"));
    let mut changes = session_core::store::Changeset::new(later.add(Duration::from_secs(3600)));
    changes.set.insert("k".into(), json!(1).into());
    let outcome = store
        .apply(&key, &changes, None)
        .await
        .expect("apply failed");
    assert_eq!(outcome, session_core::store::ApplyOutcome::Applied(2));

    let score: f64 = raw
        .zscore(&index, key.as_str())
        .await
        .expect("ZSCORE failed");
    let horizon: i64 = raw.hget(&hash, "i").await.expect("HGET i failed");
    let index_expiry: i64 = redis::cmd("PEXPIRETIME")
        .arg(&index)
        .query_async(&mut raw)
        .await
        .expect("PEXPIRETIME failed");
    let deadline = changes.expires_at.as_millis();
    assert!(horizon >= deadline, "i {horizon} < deadline {deadline}");
    assert!(score >= horizon as f64, "index score {score} < i {horizon}");
    assert!(
        index_expiry >= horizon,
        "index expires at {index_expiry} < i {horizon}"
    );
    let listed = store
        .sessions_of(&user, &Default::default())
        .await
        .expect("sessions_of failed")
        .sessions;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at, changes.expires_at);
}

/// The scripts hand fields to HSET/HDEL in chunks (Lua's `unpack` has a stack limit): a
/// session far wider than one chunk is created, rewritten, trimmed and cleared intact.
#[tokio::test]
async fn sessions_wider_than_a_script_chunk_round_trip() {
    use session_core::store::{ApplyOutcome, Changeset};

    const WIDTH: usize = 9_000;
    let store = common::standalone().await;
    let key = StoreKey::random();
    let expires_at = Timestamp::now().add(Duration::from_secs(60));
    let mut record = Record::new(Timestamp::now(), expires_at, false);
    for i in 0..WIDTH {
        record.data.insert(format!("k{i}"), json!(i).into());
    }
    assert_eq!(
        store.create(&key, &record).await.expect("create failed"),
        CreateOutcome::Created
    );
    assert_eq!(
        store.load(&key).await.expect("load failed"),
        Some(record.clone())
    );

    let mut changes = Changeset::new(expires_at);
    for i in 0..WIDTH {
        changes
            .set
            .insert(format!("n{i}"), json!(-(i as i64)).into());
        changes.removed.insert(format!("k{i}"));
    }
    changes.removed.remove("k0");
    let outcome = store
        .apply(&key, &changes, None)
        .await
        .expect("apply failed");
    assert!(matches!(outcome, ApplyOutcome::Applied(2)), "{outcome:?}");
    let loaded = store
        .load(&key)
        .await
        .expect("load failed")
        .expect("session gone");
    assert_eq!(loaded.data.len(), WIDTH + 1);
    assert_eq!(loaded.data.get("k0"), Some(&json!(0).into()));
    assert_eq!(loaded.data.get("n8999"), Some(&json!(-8999).into()));
    assert_eq!(loaded.version, 2);

    let mut clear = Changeset::new(expires_at);
    clear.cleared = true;
    clear.set.insert("only".into(), json!(true).into());
    let outcome = store.apply(&key, &clear, None).await.expect("apply failed");
    assert!(matches!(outcome, ApplyOutcome::Applied(3)), "{outcome:?}");
    let loaded = store
        .load(&key)
        .await
        .expect("load failed")
        .expect("session gone");
    assert_eq!(loaded.data.len(), 1);
    assert_eq!(loaded.data.get("only"), Some(&json!(true).into()));
}

/// Indexes written before the by-creation set existed (simulated by deleting it, and by
/// hashes without `l`) are backfilled by the first listing, which still shows every
/// session, newest first, last seen when created.
#[tokio::test]
async fn indexes_from_before_the_listing_set_are_backfilled() {
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let user = format!("old-{}", StoreKey::random());
    let mut keys = Vec::new();
    for i in 0..3 {
        let mut record = record_until(Timestamp::now().add(Duration::from_secs(600)));
        record.user = Some(user.clone());
        record.created_at = Timestamp::from_millis(Timestamp::now().as_millis() - 1000 + i);
        record.last_seen = Timestamp::now();
        let key = StoreKey::random();
        let created = store.create(&key, &record).await.expect("create failed");
        assert_eq!(created, CreateOutcome::Created);
        let _: i64 = raw
            .hdel(format!("{prefix}{key}"), "l")
            .await
            .expect("HDEL failed");
        keys.push((key, record.created_at));
    }
    let by_creation = format!("{{{prefix}user:{}}}:created", sha256_hex(&user));
    let gone: i64 = raw.del(&by_creation).await.expect("DEL failed");
    assert_eq!(gone, 1, "the by-creation set is where the store keeps it");
    let page = store
        .sessions_of(&user, &Default::default())
        .await
        .expect("sessions_of failed");
    let listed: Vec<StoreKey> = page.sessions.iter().map(|s| s.key.clone()).collect();
    let expected: Vec<StoreKey> = keys.iter().rev().map(|(k, _)| k.clone()).collect();
    assert_eq!(listed, expected);
    for (summary, (_, created_at)) in page.sessions.iter().zip(keys.iter().rev()) {
        assert_eq!(summary.last_seen, *created_at);
    }
    let members: i64 = raw.zcard(&by_creation).await.expect("ZCARD failed");
    assert_eq!(members, 3, "the listing backfilled the set");
}

/// A fresh session (no user) live for an hour.
async fn created_for_an_hour(store: &impl SessionStore) -> (StoreKey, Record) {
    let key = StoreKey::random();
    let record = record_until(Timestamp::now().add(Duration::from_secs(3600)));
    let created = store.create(&key, &record).await.expect("create failed");
    assert_eq!(created, CreateOutcome::Created);
    (key, record)
}

/// A changeset as the manager sends it inside `touch_after`: the lean data write.
fn keeping_write(deadline: Timestamp, key: &str) -> session_core::store::Changeset {
    let mut changes = session_core::store::Changeset::new(deadline);
    changes.keeps_deadline = true;
    changes.set.insert(key.into(), json!("late").into());
    changes
}

#[tokio::test]
async fn a_late_data_write_leaves_nothing_behind() {
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let (key, record) = created_for_an_hour(&store).await;
    store.delete(&key).await.expect("delete failed");
    let outcome = store
        .apply(&key, &keeping_write(record.expires_at, "k"), None)
        .await
        .expect("apply failed");
    assert_eq!(outcome, session_core::store::ApplyOutcome::Missing);
    let exists: i64 = raw
        .exists(format!("{prefix}{key}"))
        .await
        .expect("EXISTS failed");
    assert_eq!(exists, 0, "a write to a gone session must not leave a hash");
}

#[tokio::test]
async fn a_data_write_leaves_a_rotation_marker_and_its_ttl_alone() {
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let (from, to) = (StoreKey::random(), StoreKey::random());
    let mut record = record_until(Timestamp::now().add(Duration::from_secs(3600)));
    record.user = Some(format!("marker-{}", &StoreKey::random().as_str()[..8]));
    assert_eq!(
        store.create(&from, &record).await.expect("create failed"),
        CreateOutcome::Created
    );
    let rotated = store
        .rotate(
            &from,
            &to,
            &session_core::store::Changeset::new(record.expires_at),
            None,
        )
        .await
        .expect("rotate failed");
    assert!(
        matches!(rotated, session_core::store::RotateOutcome::Rotated(_)),
        "{rotated:?}"
    );
    let hash = format!("{prefix}{from}");
    let before: i64 = raw.pttl(&hash).await.expect("PTTL failed");
    assert!(
        before > 0,
        "rotation leaves a moved note behind (PTTL {before})"
    );
    let outcome = store
        .apply(&from, &keeping_write(record.expires_at, "k"), None)
        .await
        .expect("apply failed");
    assert_eq!(outcome, session_core::store::ApplyOutcome::Missing);
    let state: Option<String> = raw.hget(&hash, "s").await.expect("HGET failed");
    assert_eq!(state.as_deref(), Some("moved"));
    assert!(
        data_fields(&mut raw, &hash).await.is_empty(),
        "the refused write took its staged data away"
    );
    let after: i64 = raw.pttl(&hash).await.expect("PTTL failed");
    assert!(
        after <= before,
        "the note's TTL must not grow ({before} -> {after})"
    );
    assert_eq!(store.load(&from).await.expect("load failed"), None);
    assert!(store.load(&to).await.expect("load failed").is_some());
}

#[tokio::test]
async fn a_data_write_on_a_garbled_version_is_corrupt() {
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let (key, record) = created_for_an_hour(&store).await;
    let _: i64 = raw
        .hset(format!("{prefix}{key}"), "v", "seven")
        .await
        .expect("HSET failed");
    let got = store
        .apply(&key, &keeping_write(record.expires_at, "k"), None)
        .await;
    assert!(matches!(got, Err(StoreError::Corrupt(_))), "{got:?}");
}

/// The store sends `EVALSHA` itself: a server that lost its scripts (restart, failover,
/// `SCRIPT FLUSH`) gets each one loaded again, and the call it refused runs once more.
#[tokio::test]
async fn scripts_the_server_forgot_are_loaded_again() {
    let (store, _prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let flush = || redis::cmd("SCRIPT").arg("FLUSH").to_owned();
    flush()
        .query_async::<()>(&mut raw)
        .await
        .expect("SCRIPT FLUSH failed");
    let (key, record) = created_for_an_hour(&store).await;
    flush()
        .query_async::<()>(&mut raw)
        .await
        .expect("SCRIPT FLUSH failed");
    // An expected version keeps this write off the lean path: the write script runs.
    let mut changes = keeping_write(record.expires_at, "after-flush");
    changes.keeps_deadline = false;
    let outcome = store
        .apply(&key, &changes, Some(record.version))
        .await
        .expect("apply after SCRIPT FLUSH failed");
    assert_eq!(
        outcome,
        session_core::store::ApplyOutcome::Applied(record.version + 1)
    );
    let loaded = store.load(&key).await.expect("load failed").expect("gone");
    assert_eq!(loaded.data.get("after-flush"), Some(&json!("late").into()));
    assert_eq!(loaded.data.get("greeting"), Some(&json!("hello").into()));
    // And the lean data write, whose script call sits inside a transaction.
    flush()
        .query_async::<()>(&mut raw)
        .await
        .expect("SCRIPT FLUSH failed");
    let outcome = store
        .apply(&key, &keeping_write(loaded.expires_at, "lean"), None)
        .await
        .expect("lean apply after SCRIPT FLUSH failed");
    assert_eq!(
        outcome,
        session_core::store::ApplyOutcome::Applied(record.version + 2)
    );
    let loaded = store.load(&key).await.expect("load failed").expect("gone");
    assert_eq!(loaded.data.get("lean"), Some(&json!("late").into()));
}

/// A data write that finds another version stored merges into the packed data it finds,
/// and a stored `d` that is not packed data is `Corrupt` with nothing written.
#[tokio::test]
async fn a_stale_write_on_garbled_packed_data_is_corrupt() {
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let (key, record) = created_for_an_hour(&store).await;
    let hash = format!("{prefix}{key}");
    let live: String = raw.hget(&hash, "w").await.expect("HGET failed");
    let _: i64 = raw
        .hset(&hash, &live, "7:garbage")
        .await
        .expect("HSET failed");
    let mut changes = keeping_write(record.expires_at, "k");
    changes.base = Some(session_core::store::Base {
        version: record.version + 5,
        unchanged: record.data.clone(),
    });
    let got = store.apply(&key, &changes, None).await;
    assert!(matches!(got, Err(StoreError::Corrupt(_))), "{got:?}");
    let version: String = raw.hget(&hash, "v").await.expect("HGET failed");
    assert_eq!(version, record.version.to_string(), "nothing was written");
    assert_eq!(
        data_fields(&mut raw, &hash).await,
        [live],
        "the staged field is gone"
    );
}

/// The hash's data fields (`D…`), sorted.
async fn data_fields(raw: &mut redis::aio::MultiplexedConnection, hash: &str) -> Vec<String> {
    let names: Vec<String> = raw.hkeys(hash).await.expect("HKEYS failed");
    let mut data: Vec<String> = names.into_iter().filter(|n| n.starts_with('D')).collect();
    data.sort();
    data
}

/// A hash of the store's first layout (one `d:<key>` field per key) loads, and its first
/// write moves every key into one packed data field: with the loaded base (the manager's write),
/// without one (a merge), after a `clear`, and through the general write script.
#[tokio::test]
async fn hashes_of_the_per_key_layout_move_to_the_packed_one_on_write() {
    use session_core::store::{ApplyOutcome, Base, Changeset};
    let (store, prefix) = common::standalone_with_prefix().await;
    let mut raw = common::raw().await;
    let now = Timestamp::now();
    let expires = now.add(Duration::from_secs(600)).as_millis();
    let legacy = |key: &StoreKey| {
        let hash = format!("{prefix}{key}");
        let fields = [
            ("v", "4".to_owned()),
            ("c", now.as_millis().to_string()),
            ("e", expires.to_string()),
            ("p", "0".into()),
            ("l", now.as_millis().to_string()),
            ("d:cart", "[1,2]".into()),
            ("d:name", "\"Ada\"".into()),
            ("d:d:x", "true".into()),
        ];
        (hash, fields)
    };
    let keeping = |set: &[(&str, serde_json::Value)]| {
        let mut c = Changeset::new(Timestamp::from_millis(expires));
        c.keeps_deadline = true;
        for (k, v) in set {
            c.set.insert((*k).into(), v.into());
        }
        c
    };
    let based = |mut c: Changeset, unchanged: &[(&str, serde_json::Value)]| {
        c.base = Some(Base {
            version: 4,
            unchanged: unchanged
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.into()))
                .collect(),
        });
        c
    };
    let name = ("name", json!("Ada"));
    let flag = ("d:x", json!(true));
    let mut with_base = keeping(&[("cart", json!([3]))]);
    with_base = based(with_base, &[name.clone(), flag.clone()]);
    let mut cleared = keeping(&[("fresh", json!(0))]);
    cleared.cleared = true;
    let mut general = keeping(&[("cart", json!([3]))]);
    general.keeps_deadline = false;
    general.expires_at = Timestamp::from_millis(expires + 1000);
    let cases: [(Changeset, &[(&str, serde_json::Value)]); 4] = [
        (
            with_base,
            &[("cart", json!([3])), name.clone(), flag.clone()],
        ),
        (
            keeping(&[("cart", json!([3]))]),
            &[("cart", json!([3])), name.clone(), flag.clone()],
        ),
        (cleared, &[("fresh", json!(0))]),
        (general, &[("cart", json!([3])), name.clone(), flag.clone()]),
    ];
    for (i, (changes, expected)) in cases.into_iter().enumerate() {
        let key = StoreKey::random();
        let (hash, fields) = legacy(&key);
        let _: () = raw
            .hset_multiple(&hash, &fields)
            .await
            .expect("HSET failed");
        let _: bool = raw
            .pexpire_at(&hash, expires)
            .await
            .expect("PEXPIREAT failed");
        let before = store.load(&key).await.expect("load").expect("a session");
        assert_eq!(
            before.data.get("cart"),
            Some(&json!([1, 2]).into()),
            "case {i}"
        );
        assert_eq!(
            before.data.get("d:x"),
            Some(&json!(true).into()),
            "case {i}"
        );
        let outcome = store.apply(&key, &changes, None).await.expect("apply");
        assert_eq!(outcome, ApplyOutcome::Applied(5), "case {i}");
        let names: Vec<String> = raw.hkeys(&hash).await.expect("HKEYS failed");
        let live: String = raw.hget(&hash, "w").await.expect("HGET failed");
        assert_eq!(data_fields(&mut raw, &hash).await, [live], "case {i}");
        assert!(
            !names.iter().any(|n| n.starts_with("d:")),
            "case {i}: {names:?}"
        );
        let after = store.load(&key).await.expect("load").expect("a session");
        let expected: session_core::store::Data = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.into()))
            .collect();
        assert_eq!(after.data, expected, "case {i}");
    }
}
