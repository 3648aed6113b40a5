//! The markers of the rotation and revocation protocols, one path at a time: states a
//! race would leave are written by hand (standalone server, `REDIS_URL`), then the store
//! must treat them as the README says. `races.rs` runs the same protocols for real.

mod common;

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde_json::json;
use session_core::{
    Timestamp,
    store::{
        ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreKey,
    },
};
use sha2::Digest as _;
use store_redis::RedisStore;

struct Fixture {
    store: RedisStore,
    prefix: String,
    raw: MultiplexedConnection,
    user: String,
}

impl Fixture {
    async fn new() -> Self {
        let (store, prefix) = common::standalone_with_prefix().await;
        let user = format!("marker-{}", &StoreKey::random().as_str()[..12]);
        let raw = common::raw().await;
        Self {
            store,
            prefix,
            raw,
            user,
        }
    }

    fn hash(&self, key: &StoreKey) -> String {
        format!("{}{key}", self.prefix)
    }

    fn index(&self) -> String {
        let digest = sha2::Sha256::digest(self.user.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}user:{hex}", self.prefix)
    }

    async fn hset(&mut self, key: &StoreKey, fields: &[(&str, String)]) {
        let hash = self.hash(key);
        let (): () = self.raw.hset_multiple(&hash, fields).await.expect("HSET");
        let _: bool = self.raw.pexpire(&hash, 60_000).await.expect("PEXPIRE");
    }

    async fn list(&mut self, key: &StoreKey) {
        let index = self.index();
        let _: i64 = self
            .raw
            .zadd(&index, key.as_str(), in_ms(3_600_000))
            .await
            .expect("ZADD");
    }

    async fn unlist(&mut self, key: &StoreKey) {
        let index = self.index();
        let _: i64 = self.raw.zrem(&index, key.as_str()).await.expect("ZREM");
    }

    /// Drops the revocation record, so the index step passes as it did for a write whose
    /// index step ran before the revocation: only the fence is left to refuse it.
    async fn forget_revocation(&mut self) {
        let key = format!("{{{}}}:revoked", self.index());
        let _: i64 = self.raw.del(&key).await.expect("DEL");
    }

    async fn exists(&mut self, key: &StoreKey) -> bool {
        let hash = self.hash(key);
        self.raw.exists(&hash).await.expect("EXISTS")
    }

    async fn create(&self, record: &Record) -> StoreKey {
        let key = StoreKey::random();
        let outcome = self.store.create(&key, record).await.expect("create");
        assert_eq!(outcome, CreateOutcome::Created);
        key
    }

    async fn revoke(&self, except: Option<&StoreKey>) -> u64 {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let n = self.store.delete_sessions_of(&self.user, except).await;
        tokio::time::sleep(Duration::from_millis(3)).await;
        n.expect("delete_sessions_of")
    }

    fn owned(&self, signed_in: Timestamp) -> Record {
        let mut r = live();
        r.user = Some(self.user.clone());
        r.authenticated_at = Some(signed_in);
        r
    }
}

fn in_ms(ms: i64) -> i64 {
    Timestamp::now().as_millis() + ms
}

fn live() -> Record {
    let now = Timestamp::now();
    let mut r = Record::new(now, now.add(Duration::from_secs(600)), false);
    r.data.insert("k".into(), json!("v").into());
    r
}

fn changes(began_at: Timestamp) -> Changeset {
    let mut c = Changeset::new(Timestamp::now().add(Duration::from_secs(600)));
    c.began_at = began_at;
    c
}

/// A session rotated away after the revocation listed the index is followed through its
/// `moved` note and deleted, though its new key was never listed.
#[tokio::test]
async fn revocation_follows_a_rotated_session() {
    let mut f = Fixture::new().await;
    let from = f.create(&f.owned(Timestamp::now())).await;
    let to = StoreKey::random();
    let outcome = f
        .store
        .rotate(&from, &to, &changes(Timestamp::now()), None)
        .await;
    assert!(matches!(
        outcome.expect("rotate"),
        RotateOutcome::Rotated(_)
    ));
    f.unlist(&to).await;
    assert_eq!(f.revoke(None).await, 1);
    assert_eq!(f.store.load(&to).await.expect("load"), None);
}

/// A rotation that is still reserving its new key when the revocation follows the old
/// one loses its reservation (its activation then finds nothing: `Missing`).
#[tokio::test]
async fn revocation_drops_the_reservation_of_a_followed_rotation() {
    let mut f = Fixture::new().await;
    let (from, to) = (StoreKey::random(), StoreKey::random());
    let signed_in = Timestamp::from_millis(in_ms(-1000)).as_millis().to_string();
    let moved = [
        ("s", "moved".into()),
        ("m", to.to_string()),
        ("o", f.user.clone()),
    ];
    f.hset(&from, &moved).await;
    f.hset(&from, &[("a", signed_in)]).await;
    f.list(&from).await;
    let pending = [
        ("s", "pending".into()),
        ("x", "t".into()),
        ("f", from.to_string()),
    ];
    f.hset(&to, &pending).await;
    f.hset(&to, &[("b", in_ms(-1000).to_string())]).await;
    assert_eq!(f.revoke(None).await, 1);
    assert!(!f.exists(&to).await, "the reservation survived");
}

/// Notes of sessions signed in after the revocation, or of other users, are not
/// followed: what they moved to survives.
#[tokio::test]
async fn revocation_leaves_later_logins_and_other_users_alone() {
    let mut f = Fixture::new().await;
    let later = f
        .create(&f.owned(Timestamp::from_millis(in_ms(60_000))))
        .await;
    let to = StoreKey::random();
    let outcome = f
        .store
        .rotate(&later, &to, &changes(Timestamp::now()), None)
        .await;
    assert!(matches!(
        outcome.expect("rotate"),
        RotateOutcome::Rotated(_)
    ));
    f.unlist(&to).await;

    let mut theirs = live();
    theirs.user = Some(format!("{}-other", f.user));
    let other = f.create(&theirs).await;
    f.list(&other).await;

    assert_eq!(f.revoke(None).await, 0);
    assert!(f.store.load(&to).await.expect("load").is_some());
    assert_eq!(f.store.load(&other).await.expect("load"), Some(theirs));
}

/// A reservation found in the index goes when the rule refuses its rotation, and stays
/// when the rotation began after the revocation or rotates the kept session.
#[tokio::test]
async fn listed_reservations_follow_the_rule() {
    let mut f = Fixture::new().await;
    let (kept, other) = (StoreKey::random(), StoreKey::random());
    let mut reservations = Vec::new();
    for (began, from) in [(-1000, &other), (60_000, &other), (-1000, &kept)] {
        let to = StoreKey::random();
        let fields = [
            ("s", "pending".to_owned()),
            ("x", "t".into()),
            ("b", in_ms(began).to_string()),
            ("f", from.to_string()),
        ];
        f.hset(&to, &fields).await;
        f.list(&to).await;
        reservations.push(to);
    }
    assert_eq!(f.revoke(Some(&kept)).await, 0);
    assert!(!f.exists(&reservations[0]).await, "begun before: must go");
    assert!(f.exists(&reservations[1]).await, "begun after: must stay");
    assert!(
        f.exists(&reservations[2]).await,
        "the kept session's: must stay"
    );
}

/// A listed key with no session yet (a create in flight) is fenced: the create is then
/// refused if its user signed in before the revocation, and allowed otherwise.
#[tokio::test]
async fn a_fenced_key_refuses_creates_signed_in_before() {
    let mut f = Fixture::new().await;
    let key = StoreKey::random();
    f.list(&key).await;
    assert_eq!(f.revoke(None).await, 0);
    f.forget_revocation().await;
    let before = f.owned(Timestamp::from_millis(in_ms(-1000)));
    let refused = f.store.create(&key, &before).await.expect("create");
    assert_eq!(refused, CreateOutcome::Revoked);
    assert!(f.exists(&key).await, "the fence went");
    let after = f.owned(Timestamp::now());
    let created = f.store.create(&key, &after).await.expect("create");
    assert_eq!(created, CreateOutcome::Created);
    assert_eq!(f.store.load(&key).await.expect("load"), Some(after));
}

/// A listed session of nobody (a login by `apply` in flight) is fenced, not deleted: it
/// still loads, a login begun before the revocation is refused, a later one is not.
#[tokio::test]
async fn a_fenced_session_refuses_logins_begun_before() {
    let mut f = Fixture::new().await;
    let anonymous = live();
    let key = f.create(&anonymous).await;
    f.list(&key).await;
    assert_eq!(f.revoke(None).await, 0);
    f.forget_revocation().await;
    assert_eq!(f.store.load(&key).await.expect("load"), Some(anonymous));
    let mut login = changes(Timestamp::from_millis(in_ms(-1000)));
    login.user = Some(Some(f.user.clone()));
    login.authenticated_at = Some(login.began_at);
    let refused = f.store.apply(&key, &login, None).await.expect("apply");
    assert_eq!(refused, ApplyOutcome::Missing);
    login.began_at = Timestamp::now();
    login.authenticated_at = Some(login.began_at);
    let applied = f.store.apply(&key, &login, None).await.expect("apply");
    assert_eq!(applied, ApplyOutcome::Applied(2));
}

/// Markers are not sessions: nothing loads, writes find nothing, and the keys they hold
/// are not free for a create or a rotation.
#[tokio::test]
async fn markers_are_not_sessions() {
    let mut f = Fixture::new().await;
    let (pending, moved) = (StoreKey::random(), StoreKey::random());
    f.hset(&pending, &[("s", "pending".into()), ("x", "t".into())])
        .await;
    f.hset(&moved, &[("s", "moved".into()), ("m", pending.to_string())])
        .await;
    let other = f.create(&live()).await;
    for key in [&pending, &moved] {
        assert_eq!(f.store.load(key).await.expect("load"), None);
        let applied = f.store.apply(key, &changes(Timestamp::now()), None).await;
        assert_eq!(applied.expect("apply"), ApplyOutcome::Missing);
        let deadline = Timestamp::now().add(Duration::from_secs(60));
        assert!(!f.store.touch(key, deadline).await.expect("touch"));
        let created = f.store.create(key, &live()).await.expect("create");
        assert_eq!(created, CreateOutcome::AlreadyExists);
        let (c, fresh) = (changes(Timestamp::now()), StoreKey::random());
        let rotated = f.store.rotate(&other, key, &c, None).await;
        assert_eq!(rotated.expect("rotate"), RotateOutcome::KeyTaken);
        let rotated = f.store.rotate(key, &fresh, &c, None).await;
        assert_eq!(rotated.expect("rotate"), RotateOutcome::Missing);
    }
}

/// Hashes written before `authenticated_at` existed (no `a` field) still load, as `None`.
#[tokio::test]
async fn hashes_without_authenticated_at_load_as_none() {
    let mut f = Fixture::new().await;
    let key = StoreKey::random();
    let (created, expires) = (in_ms(-5000), in_ms(600_000));
    let fields = [
        ("v", "3".to_owned()),
        ("c", created.to_string()),
        ("e", expires.to_string()),
        ("p", "1".into()),
        ("u", f.user.clone()),
        ("i", expires.to_string()),
        ("d:cart", "[1]".into()),
    ];
    f.hset(&key, &fields).await;
    let got = f.store.load(&key).await.expect("load").expect("a session");
    assert_eq!(got.authenticated_at, None);
    assert_eq!(got.user.as_deref(), Some(f.user.as_str()));
    assert_eq!((got.version, got.persistent), (3, true));
    assert_eq!(got.data.get("cart"), Some(&json!([1]).into()));
}

/// A session past its deadline by the application's clock but not yet by Redis's (clock
/// skew, or the last milliseconds) is not rotated: `Missing`, and nothing is reserved.
#[tokio::test]
async fn a_session_expired_by_the_app_clock_is_not_rotated() {
    let mut f = Fixture::new().await;
    let key = StoreKey::random();
    let fields = [
        ("v", "1".to_owned()),
        ("c", in_ms(-60_000).to_string()),
        ("e", in_ms(-1000).to_string()),
        ("p", "0".into()),
    ];
    f.hset(&key, &fields).await;
    let to = StoreKey::random();
    let rotated = f
        .store
        .rotate(&key, &to, &changes(Timestamp::now()), None)
        .await;
    assert_eq!(rotated.expect("rotate"), RotateOutcome::Missing);
    assert!(!f.exists(&to).await, "the reservation was left behind");
    assert!(
        f.exists(&key).await,
        "an expired session is Redis's to drop"
    );
}

/// `delete` of a key that was rotated away leaves its `moved` note, so a revocation
/// that listed the key before the rotation still finds where the session went.
#[tokio::test]
async fn delete_leaves_moved_notes_for_revocations() {
    let mut f = Fixture::new().await;
    let from = f.create(&f.owned(Timestamp::now())).await;
    let to = StoreKey::random();
    let outcome = f
        .store
        .rotate(&from, &to, &changes(Timestamp::now()), None)
        .await;
    assert!(matches!(
        outcome.expect("rotate"),
        RotateOutcome::Rotated(_)
    ));
    f.unlist(&to).await;
    f.store.delete(&from).await.expect("delete");
    assert!(f.exists(&from).await, "the note went");
    assert_eq!(f.revoke(None).await, 1);
    assert_eq!(f.store.load(&to).await.expect("load"), None);
}
