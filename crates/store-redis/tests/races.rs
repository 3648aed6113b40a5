//! Races the conformance suite only samples: `rotate`, `create` and a login by `apply`
//! against `delete_sessions_of` (and `rotate` against `delete`), started at spread-out
//! offsets so every step of the protocols meets the other operation, on both
//! deployments. Whatever the interleaving, a write begun before the revocation never
//! leaves a live session of the revoked user.

mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use session_core::{
    Timestamp,
    store::{
        ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreKey,
    },
};
use store_redis::RedisStore;

const ROUNDS: u64 = 60;

fn user() -> String {
    format!("race-{}", &StoreKey::random().as_str()[..12])
}

fn record(user: Option<&str>) -> Record {
    let now = Timestamp::now();
    let mut r = Record::new(now, now.add(Duration::from_secs(600)), false);
    r.data.insert("k".into(), json!(1).into());
    r.user = user.map(str::to_owned);
    r.authenticated_at = user.map(|_| now);
    r
}

/// A changeset of a request that began a moment ago.
fn in_flight() -> Changeset {
    let mut c = Changeset::new(Timestamp::now().add(Duration::from_secs(600)));
    c.began_at = Timestamp::from_millis(Timestamp::now().as_millis() - 20);
    c.set.insert("x".into(), json!(2).into());
    c
}

/// Busy-waits `micros` (tokio timers are too coarse), then runs `f`.
async fn after<T>(micros: u64, f: impl std::future::Future<Output = T>) -> T {
    let start = Instant::now();
    while start.elapsed() < Duration::from_micros(micros) {
        tokio::task::yield_now().await;
    }
    f.await
}

/// Round `i`'s offset: the second operation starts up to ~3 ms after the first.
fn offset(i: u64) -> u64 {
    (i * 53) % 3000
}

async fn absent(store: &RedisStore, key: &StoreKey) -> bool {
    store.load(key).await.expect("load failed").is_none()
}

async fn create(store: &RedisStore, record: &Record) -> StoreKey {
    let key = StoreKey::random();
    let outcome = store.create(&key, record).await.expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    key
}

async fn rotation_vs_revocation(store: RedisStore) {
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..ROUNDS {
        let u = user();
        let (from, to) = (create(&store, &record(Some(&u))).await, StoreKey::random());
        let mut changes = in_flight();
        if i % 2 == 1 {
            changes.user = Some(Some(u.clone()));
            changes.authenticated_at = Some(changes.began_at);
        }
        let (rotated, _) = tokio::join!(
            store.rotate(&from, &to, &changes, None),
            after(offset(i), store.delete_sessions_of(&u, None))
        );
        let rotated = rotated.expect("rotate failed");
        *seen.entry(format!("{rotated:?}")).or_insert(0) += 1;
        assert!(absent(&store, &from).await, "round {i}: from survived");
        assert!(
            absent(&store, &to).await,
            "round {i}: to survived ({rotated:?})"
        );
        let left = store
            .sessions_of(&u, &Default::default())
            .await
            .expect("sessions_of failed")
            .sessions;
        assert!(left.is_empty(), "round {i}: {left:?}");
    }
    eprintln!("rotation vs revocation: {seen:?}");
}

async fn login_rotation_vs_revocation(store: RedisStore) {
    for i in 0..ROUNDS {
        let u = user();
        let (from, to) = (create(&store, &record(None)).await, StoreKey::random());
        let mut changes = in_flight();
        changes.user = Some(Some(u.clone()));
        changes.authenticated_at = Some(changes.began_at);
        let (rotated, _) = tokio::join!(
            store.rotate(&from, &to, &changes, None),
            after(offset(i), store.delete_sessions_of(&u, None))
        );
        let rotated = rotated.expect("rotate failed");
        assert!(
            absent(&store, &to).await,
            "round {i}: to survived ({rotated:?})"
        );
        assert!(
            absent(&store, &from).await,
            "round {i}: from survived ({rotated:?})"
        );
    }
}

async fn kept_rotation_vs_revocation(store: RedisStore) {
    let mut rotated_count = 0;
    for i in 0..ROUNDS {
        let u = user();
        let (kept, to) = (create(&store, &record(Some(&u))).await, StoreKey::random());
        let changes = in_flight();
        let (rotated, _) = tokio::join!(
            store.rotate(&kept, &to, &changes, None),
            after(offset(i), store.delete_sessions_of(&u, Some(&kept)))
        );
        // Either order is allowed: revocation first keeps the rotation of the kept
        // session; rotation first leaves `to`, which the revocation (kept: the old key)
        // then deletes. Never both gone with a `Rotated` that the revocation did not see.
        match rotated.expect("rotate failed") {
            RotateOutcome::Rotated(_) => rotated_count += 1,
            other => panic!("round {i}: kept session: {other:?}"),
        }
        assert!(absent(&store, &kept).await);
    }
    assert_eq!(rotated_count, ROUNDS);
}

async fn create_vs_revocation(store: RedisStore) {
    for i in 0..ROUNDS {
        let u = user();
        let mut r = record(Some(&u));
        r.authenticated_at = Some(Timestamp::from_millis(r.created_at.as_millis() - 20));
        let key = StoreKey::random();
        let (created, _) = tokio::join!(
            store.create(&key, &r),
            after(offset(i), store.delete_sessions_of(&u, None))
        );
        let created = created.expect("create failed");
        assert!(
            matches!(created, CreateOutcome::Created | CreateOutcome::Revoked),
            "{created:?}"
        );
        assert!(
            absent(&store, &key).await,
            "round {i}: created session survived"
        );
    }
}

async fn login_apply_vs_revocation(store: RedisStore) {
    for i in 0..ROUNDS {
        let u = user();
        let key = create(&store, &record(None)).await;
        let mut login = in_flight();
        login.user = Some(Some(u.clone()));
        login.authenticated_at = Some(login.began_at);
        let (applied, _) = tokio::join!(
            store.apply(&key, &login, None),
            after(offset(i), store.delete_sessions_of(&u, None))
        );
        let applied = applied.expect("apply failed");
        assert!(
            matches!(applied, ApplyOutcome::Applied(_) | ApplyOutcome::Missing),
            "{applied:?}"
        );
        let now = store.load(&key).await.expect("load failed");
        assert!(
            now.as_ref().is_none_or(|r| r.user.is_none()),
            "round {i}: login survived the revocation ({applied:?})"
        );
    }
}

async fn rotation_vs_delete(store: RedisStore) {
    for i in 0..ROUNDS {
        let u = user();
        let (from, to) = (create(&store, &record(Some(&u))).await, StoreKey::random());
        let changes = in_flight();
        let (rotated, deleted) = tokio::join!(
            store.rotate(&from, &to, &changes, None),
            after(offset(i) / 3, store.delete(&from))
        );
        deleted.expect("delete failed");
        assert!(absent(&store, &from).await);
        match rotated.expect("rotate failed") {
            RotateOutcome::Rotated(_) => assert!(!absent(&store, &to).await, "round {i}"),
            RotateOutcome::Missing => assert!(absent(&store, &to).await, "round {i}"),
            other => panic!("round {i}: {other:?}"),
        }
    }
}

macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod standalone {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::common::standalone().await).await;
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(super::common::cluster().await).await;
                }
            )*
        }
    };
}

on_both!(
    rotation_vs_revocation,
    login_rotation_vs_revocation,
    kept_rotation_vs_revocation,
    create_vs_revocation,
    login_apply_vs_revocation,
    rotation_vs_delete,
);
