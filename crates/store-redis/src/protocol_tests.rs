//! The rotation and revocation protocols interleaved deterministically: a revocation (or
//! its second phase) runs in every gap between a rotation's steps, on a single server
//! (`REDIS_URL`) and on a cluster (`REDIS_CLUSTER_URLS`, required). Whatever the gap,
//! the outcome is one a sequential order allows, and "log out everywhere" leaves no
//! session of the user behind.

use std::time::Duration;

use serde_json::json;
use session_core::{
    Timestamp,
    store::{Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreKey},
};

use crate::RedisStore;
use crate::rotate::Rotation;

/// The gaps: before step 1, after step 1 … after step 4.
const GAPS: usize = 5;

async fn stores() -> [RedisStore; 2] {
    let prefix = format!("test:{}:", &StoreKey::random().as_str()[..16]);
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let standalone = RedisStore::connect(&url).await.expect("REDIS_URL");
    let urls = std::env::var("REDIS_CLUSTER_URLS").expect("REDIS_CLUSTER_URLS is not set");
    let cluster = RedisStore::connect_cluster(urls.split(',').map(str::trim))
        .await
        .expect("REDIS_CLUSTER_URLS");
    [
        standalone.with_prefix(prefix.clone()),
        cluster.with_prefix(prefix),
    ]
}

fn session(user: Option<&str>, signed_in: Timestamp) -> Record {
    let now = Timestamp::now();
    let mut r = Record::new(now, now.add(Duration::from_secs(600)), false);
    r.data.insert("k".into(), json!(1).into());
    r.user = user.map(str::to_owned);
    r.authenticated_at = user.map(|_| signed_in);
    r
}

async fn created(store: &RedisStore, record: &Record) -> StoreKey {
    let key = StoreKey::random();
    let outcome = store.create(&key, record).await.expect("create");
    assert_eq!(outcome, CreateOutcome::Created);
    key
}

fn changes(began_at: Timestamp, login: Option<&str>) -> Changeset {
    let mut c = Changeset::new(Timestamp::now().add(Duration::from_secs(600)));
    c.began_at = began_at;
    c.set.insert("x".into(), json!(2).into());
    if let Some(user) = login {
        c.user = Some(Some(user.to_owned()));
        c.authenticated_at = Some(began_at);
    }
    c
}

/// Runs the rotation's steps with `between` in gap `gap` (or after the rotation ended
/// early, so it always runs once).
async fn rotate_around(
    rotation: Rotation<'_>,
    gap: usize,
    between: impl AsyncFn(),
) -> RotateOutcome {
    let mut pending = Some(between);
    let mut at = async |g: usize| {
        if g == gap
            && let Some(between) = pending.take()
        {
            between().await;
        }
    };
    let outcome = async {
        at(0).await;
        if let Some(done) = rotation.reserve().await.expect("reserve") {
            return done;
        }
        at(1).await;
        let record = match rotation.take().await.expect("take") {
            Ok(record) => record,
            Err(done) => return done,
        };
        at(2).await;
        let horizon = match rotation.index(&record).await.expect("index") {
            Ok(horizon) => horizon,
            Err(done) => return done,
        };
        at(3).await;
        rotation.activate(&record, horizon).await.expect("activate")
    }
    .await;
    for g in 0..GAPS {
        at(g).await;
    }
    outcome
}

async fn gone(store: &RedisStore, keys: &[&StoreKey], user: &str) -> bool {
    for key in keys {
        if store.load(key).await.expect("load").is_some() {
            return false;
        }
    }
    store
        .sessions_of(user, &Default::default())
        .await
        .expect("sessions_of")
        .sessions
        .is_empty()
}

/// A revocation in any gap of a rotation begun before it: nothing of the user survives;
/// the rotation is `Missing` unless it had finished (then the revocation deleted `to`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_in_every_gap_of_a_rotation_begun_before_it() {
    for store in stores().await {
        for login in [false, true] {
            for gap in 0..GAPS {
                let user = format!("gap-{}", &StoreKey::random().as_str()[..12]);
                let began = Timestamp::now();
                let owner = (!login).then_some(user.as_str());
                let from = created(&store, &session(owner, began)).await;
                let to = StoreKey::random();
                tokio::time::sleep(Duration::from_millis(3)).await;
                let c = changes(began, login.then_some(user.as_str()));
                let revoke = async || {
                    store.delete_sessions_of(&user, None).await.expect("revoke");
                };
                let rotation = Rotation::new(&store, &from, &to, &c, None);
                let outcome = rotate_around(rotation, gap, revoke).await;
                let expected = if gap == 4 {
                    RotateOutcome::Rotated(2)
                } else {
                    RotateOutcome::Missing
                };
                let case = format!("{store:?} login {login} gap {gap}");
                assert_eq!(outcome, expected, "{case}");
                assert!(gone(&store, &[&from, &to], &user).await, "{case}");
            }
        }
    }
}

/// The revocation's second phase in any gap of a rotation that began after the
/// revocation was recorded: a session it listed cannot escape by moving to a new key
/// (the `moved` note is followed), unless it is the kept session; a fresh login begun
/// after the revocation is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_phase_in_every_gap_of_a_rotation_begun_after_the_revocation() {
    for store in stores().await {
        for (case, kept, login) in [
            ("doomed", false, false),
            ("kept", true, false),
            ("login", false, true),
        ] {
            for gap in 0..GAPS {
                let user = format!("gap-{}", &StoreKey::random().as_str()[..12]);
                let signed_in = Timestamp::now();
                let owner = (!login).then_some(user.as_str());
                let from = created(&store, &session(owner, signed_in)).await;
                let to = StoreKey::random();
                tokio::time::sleep(Duration::from_millis(3)).await;
                let except = kept.then_some(&from);
                let (revocation, listed) = store.revoke(&user, except).await.expect("revoke");
                tokio::time::sleep(Duration::from_millis(3)).await;
                let c = changes(Timestamp::now(), login.then_some(user.as_str()));
                let second = async || {
                    store
                        .fence_listed(revocation, listed.clone())
                        .await
                        .expect("fence");
                };
                let rotation = Rotation::new(&store, &from, &to, &c, None);
                let outcome = rotate_around(rotation, gap, second).await;
                let what = format!("{store:?} {case} gap {gap}");
                if case == "doomed" {
                    let expected = if gap == 4 {
                        RotateOutcome::Rotated(2)
                    } else {
                        RotateOutcome::Missing
                    };
                    assert_eq!(outcome, expected, "{what}");
                    assert!(gone(&store, &[&from, &to], &user).await, "{what}");
                } else {
                    assert_eq!(outcome, RotateOutcome::Rotated(2), "{what}");
                    assert!(store.load(&to).await.expect("load").is_some(), "{what}");
                }
            }
        }
    }
}
