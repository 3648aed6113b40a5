//! Shared tests of the revocation table and the operation timeout (the revocation rule
//! itself is in the conformance suite).

use std::time::{Duration, Instant};

use session_core::{
    Timestamp,
    store::{
        ApplyOutcome, Changeset, CreateOutcome, REVOCATION_HORIZON, SessionStore, StoreError,
        StoreKey,
    },
};
use sqlx::{AssertSqlSafe, Database, Encode, Executor, IntoArguments, Type};

use super::{Fixture, created, live_record};
use crate::ColumnType;

fn random_user() -> String {
    format!("user-{}", &StoreKey::random().as_str()[..16])
}

impl<S: SessionStore, DB: Database> Fixture<S, DB>
where
    DB::Arguments: IntoArguments<DB>,
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
            sqlx::query(AssertSqlSafe(sql.as_str()))
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
            sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
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
        sqlx::query(AssertSqlSafe(lock.as_str()))
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
