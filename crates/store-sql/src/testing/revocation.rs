//! Shared tests of the revocation table, the operation timeout, and revocations racing
//! logins (the conformance suite races only rotations of sessions already signed in).

use std::time::{Duration, Instant};

use session_core::{
    ApplyOutcome, Changeset, CreateOutcome, REVOCATION_HORIZON, RotateOutcome, SessionStore,
    StoreError, StoreKey, Timestamp,
};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use super::{Fixture, created, live_record};
use crate::ColumnType;

fn random_user() -> String {
    format!("user-{}", &StoreKey::random().as_str()[..16])
}

/// A login changeset (binding `user`) for a request that began 50 ms ago.
fn login_begun_earlier(user: &str) -> Changeset {
    let began = Timestamp::from_millis(Timestamp::now().as_millis() - 50);
    let mut login = Changeset::new(Timestamp::now().add(Duration::from_secs(3600)));
    login.user = Some(Some(user.to_owned()));
    login.authenticated_at = Some(began);
    login.began_at = began;
    login
}

impl<S: SessionStore, DB: Database> Fixture<S, DB>
where
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    i64: ColumnType<DB>,
{
    /// Revocations past [`REVOCATION_HORIZON`] go with `delete_expired`, younger ones stay
    /// (and still refuse logins begun before them).
    pub async fn delete_expired_prunes_old_revocations(&self) {
        let (old, young) = (random_user(), random_user());
        let now = Timestamp::now();
        let old_at = now.sub(REVOCATION_HORIZON).sub(Duration::from_secs(1));
        let young_at = now.sub(REVOCATION_HORIZON).add(Duration::from_secs(60));
        for (user, at) in [(&old, old_at), (&young, young_at)] {
            let sql = format!(
                "INSERT INTO {} (user_id, revoked_at, kept_key) VALUES ($1, $2, NULL)",
                self.revocations
            );
            sqlx::query(&sql)
                .bind(user.as_str())
                .bind(at.as_millis())
                .execute(&self.pool)
                .await
                .expect("inserting a revocation failed");
        }
        self.store.delete_expired().await.expect("delete_expired");
        let left: Vec<i64> = {
            let sql = format!(
                "SELECT revoked_at FROM {} WHERE user_id = $1 OR user_id = $2",
                self.revocations
            );
            sqlx::query_scalar(&sql)
                .bind(old.as_str())
                .bind(young.as_str())
                .fetch_all(&self.pool)
                .await
                .expect("reading revocations failed")
        };
        assert_eq!(left, [young_at.as_millis()]);
        let mut record = live_record();
        record.user = Some(young);
        record.authenticated_at = Some(young_at.sub(Duration::from_millis(1)));
        let outcome = self.store.create(&StoreKey::random(), &record).await;
        assert_eq!(outcome.expect("create failed"), CreateOutcome::Revoked);
    }

    /// An operation stuck behind another transaction's lock fails with `Unavailable` once
    /// the store's operation timeout (which the caller set to 300 ms) has passed, and the
    /// store works again once the lock is gone.
    pub async fn blocked_operation_fails_within_the_timeout(&self) {
        let key = created(&self.store).await;
        let mut blocker = self.pool.begin().await.expect("begin failed");
        let lock = format!("UPDATE {} SET version = version WHERE key = $1", self.table);
        sqlx::query(&lock)
            .bind(key.as_str())
            .execute(&mut *blocker)
            .await
            .expect("locking failed");
        let started = Instant::now();
        let changes = Changeset::new(Timestamp::now().add(Duration::from_secs(60)));
        let got = self.store.apply(&key, &changes, None).await;
        let waited = started.elapsed();
        assert!(matches!(got, Err(StoreError::Unavailable(_))), "{got:?}");
        assert!(
            waited >= Duration::from_millis(250),
            "gave up early: {waited:?}"
        );
        assert!(waited < Duration::from_secs(3), "waited {waited:?}");
        blocker.rollback().await.expect("rollback failed");
        let got = self.store.apply(&key, &changes, None).await;
        assert!(matches!(got, Ok(ApplyOutcome::Applied(_))), "{got:?}");
    }
}

/// Logins begun before a revocation of their user, racing it many times — by rotation of
/// an anonymous session, by `apply` on one, and by `create` — never leave a live session
/// of that user, whichever goes first. (On PostgreSQL this needs the lock on the user's
/// revocation row: a revocation's snapshot alone does not see a row that becomes the
/// user's while it runs.)
pub async fn logins_racing_a_revocation_never_survive<S: SessionStore + Clone>(store: S) {
    for _ in 0..30 {
        let user = random_user();
        let login = login_begun_earlier(&user);
        let (anonymous, other) = (created(&store).await, created(&store).await);
        let to = StoreKey::random();
        let mut record = live_record();
        record.user = Some(user.clone());
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
        let left = store.sessions_of(&user).await.expect("sessions_of failed");
        assert!(left.is_empty(), "a login survived the revocation: {left:?}");
        for key in [&anonymous, &to, &fresh] {
            let got = store.load(key).await.expect("load failed");
            assert!(got.is_none_or(|r| r.user.is_none()), "{key:?} survived");
        }
    }
}

/// The session a revocation kept may still bind its user in a request begun before the
/// revocation (the request that asked to log out everywhere else, say), by `apply` and by
/// `rotate`; a live row under the key keeps `create` at `AlreadyExists` even for a revoked
/// user.
pub async fn revocation_spares_the_kept_session<S: SessionStore>(store: S) {
    let user = random_user();
    let mut record = live_record();
    record.user = Some(user.clone());
    record.authenticated_at = Some(record.created_at);
    let kept = StoreKey::random();
    let outcome = store.create(&kept, &record).await.expect("create failed");
    assert_eq!(outcome, CreateOutcome::Created);
    let login = login_begun_earlier(&user);
    let n = store.delete_sessions_of(&user, Some(&kept)).await;
    assert_eq!(n.expect("delete_sessions_of failed"), 0);
    let applied = store
        .apply(&kept, &login, None)
        .await
        .expect("apply failed");
    assert_eq!(applied, ApplyOutcome::Applied(record.version + 1));
    let again = store.create(&kept, &record).await.expect("create failed");
    assert_eq!(again, CreateOutcome::AlreadyExists);
    let to = StoreKey::random();
    let rotated = store.rotate(&kept, &to, &login, None).await;
    assert_eq!(
        rotated.expect("rotate failed"),
        RotateOutcome::Rotated(record.version + 2)
    );
    let left = store.sessions_of(&user).await.expect("sessions_of failed");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key, to);
}
