//! `rotate` and the rare paths of `apply`: what to report (and, for a refused rotation,
//! delete) when the one-statement update matched nothing.

use session_core::{
    Timestamp,
    store::{ApplyOutcome, Changeset, RotateOutcome, StoreError, StoreKey},
};
use sqlx::{Row, SqlStr, SqlitePool};
use store_sql::{Dialect, version_from_db, version_to_db};

use crate::dialect::SqliteDialect;
use crate::schema::Tables;
use crate::update;

/// The statements `rotate` needs besides the update itself.
pub(crate) struct RotateSql {
    /// See [`crate::schema::rotate_refused_sql`].
    pub refused: SqlStr,
    /// Deletes the row under `$1`.
    pub delete: SqlStr,
}

/// [`session_core::store::SessionStore::rotate`]: one `UPDATE OR REPLACE` in the common case.
///
/// When it matched nothing, a write transaction (`BEGIN IMMEDIATE`, so nothing changes
/// while it decides) reads why and acts on it: not live → `Missing`; another version →
/// `Conflict`; a live row under `to` → `KeyTaken`; a revoked owner → the row under `from`
/// is deleted and the outcome is `Missing`; and if the record became movable meanwhile,
/// the update runs again inside the transaction.
pub(crate) async fn rotate(
    pool: &SqlitePool,
    tables: &Tables,
    sql: &RotateSql,
    (from, to): (&StoreKey, &StoreKey),
    changes: &Changeset,
    expected_version: Option<u64>,
) -> Result<RotateOutcome, StoreError> {
    let map = SqliteDialect::map_error;
    let expected = expected_version.map(version_to_db).transpose()?;
    let moved: Option<i64> = update::rotate(tables, from, to, changes, expected, Timestamp::now())?
        .build_query_scalar()
        .fetch_all(pool)
        .await
        .map_err(map)?
        .pop();
    if let Some(version) = moved {
        return Ok(RotateOutcome::Rotated(version_from_db(version)?));
    }

    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(map)?;
    let now = Timestamp::now();
    let row = sqlx::query(sql.refused.clone())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(now.as_millis())
        .bind(changes.user.is_some())
        .bind(changes.user.as_ref().and_then(Option::as_deref))
        .bind(changes.began_at.as_millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map)?;
    let Some(row) = row else {
        return Ok(RotateOutcome::Missing);
    };
    let version: i64 = row.try_get("version").map_err(map)?;
    let taken: bool = row.try_get("taken").map_err(map)?;
    let revoked: bool = row.try_get("revoked").map_err(map)?;
    let outcome = if expected.is_some_and(|e| e != version) {
        RotateOutcome::Conflict
    } else if taken {
        RotateOutcome::KeyTaken
    } else if revoked {
        sqlx::query(sql.delete.clone())
            .bind(from.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map)?;
        RotateOutcome::Missing
    } else {
        let moved: Option<i64> = update::rotate(tables, from, to, changes, expected, now)?
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(map)?
            .pop();
        let version = moved.ok_or_else(|| {
            StoreError::backend("rotate matched nothing, for no reason the store can see")
        })?;
        RotateOutcome::Rotated(version_from_db(version)?)
    };
    tx.commit().await.map_err(map)?;
    Ok(outcome)
}

/// What a strict `apply` that matched nothing reports, from the row read afterwards by
/// [`crate::schema::apply_refused_sql`] (`None`: no live row).
pub(crate) async fn apply_refused(
    pool: &SqlitePool,
    sql: &SqlStr,
    key: &StoreKey,
    changes: &Changeset,
    expected: i64,
) -> Result<ApplyOutcome, StoreError> {
    let map = SqliteDialect::map_error;
    let row = sqlx::query(sql.clone())
        .bind(key.as_str())
        .bind(Timestamp::now().as_millis())
        .bind(changes.binds_user())
        .bind(changes.began_at.as_millis())
        .fetch_optional(pool)
        .await
        .map_err(map)?;
    let Some(row) = row else {
        return Ok(ApplyOutcome::Missing);
    };
    let version: i64 = row.try_get("version").map_err(map)?;
    let revoked: bool = row.try_get("revoked").map_err(map)?;
    // At the expected version and refused by a revocation: Missing, as the rule says.
    // At the expected version otherwise: the row changed in between; report a conflict.
    Ok(if version == expected && revoked {
        ApplyOutcome::Missing
    } else {
        ApplyOutcome::Conflict
    })
}
