//! Running PostgreSQL's own statements ([`crate::sql`]) and reading their outcomes.

use session_core::{
    Timestamp,
    store::{ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, StoreError, StoreKey},
};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row, SqlStr};
use store_sql::{Dialect, version_from_db, version_to_db};

use crate::codec::{encode_data, escape_str};
use crate::dialect::PgDialect;

/// SQLSTATE `unique_violation`.
const UNIQUE_VIOLATION: &str = "23505";

/// `sql` with the placeholders `apply` and `rotate` share (`$1`–`$13`, see
/// [`crate::sql`]) bound from `changes`.
fn with_changes(
    sql: &SqlStr,
    changes: &Changeset,
    expected_version: Option<u64>,
) -> Result<Query<'static, Postgres, PgArguments>, StoreError> {
    let removed: Vec<String> = changes
        .removed
        .iter()
        .map(|k| escape_str(k).into_owned())
        .collect();
    let user = changes.user.as_ref();
    let new_user = user.and_then(|u| u.as_deref().map(escape_str));
    // As `Record::apply`: a new principal brings its sign-in time, signing out clears it.
    let authenticated_at = user.and_then(Option::as_ref).and(changes.authenticated_at);
    let label = changes
        .label
        .as_ref()
        .and_then(|l| l.as_deref().map(|l| escape_str(l).into_owned()));
    Ok(sqlx::query(sql.clone())
        .bind(Timestamp::now().as_millis())
        .bind(changes.cleared)
        .bind(removed)
        .bind(encode_data(&changes.set))
        .bind(changes.expires_at.as_millis())
        .bind(changes.user.is_some())
        .bind(new_user)
        .bind(authenticated_at.map(Timestamp::as_millis))
        .bind(changes.persistent)
        .bind(expected_version.map(version_to_db).transpose()?)
        .bind(changes.began_at.as_millis())
        .bind(changes.label.is_some())
        .bind(label))
}

fn get<T>(row: &PgRow, column: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(PgDialect::map_error)
}

/// [`session_core::store::SessionStore::create`] with [`crate::sql::create`].
pub(crate) async fn create(
    pool: &PgPool,
    sql: &SqlStr,
    key: &StoreKey,
    record: &Record,
) -> Result<CreateOutcome, StoreError> {
    let since = record.authenticated_at.unwrap_or(record.created_at);
    let row = sqlx::query(sql.clone())
        .bind(key.as_str())
        .bind(encode_data(&record.data))
        .bind(record.created_at.as_millis())
        .bind(record.expires_at.as_millis())
        .bind(record.user.as_deref().map(escape_str))
        .bind(record.authenticated_at.map(Timestamp::as_millis))
        .bind(record.persistent)
        .bind(version_to_db(record.version)?)
        .bind(Timestamp::now().as_millis())
        .bind(since.as_millis())
        .bind(record.last_seen.as_millis())
        .bind(record.label.as_deref().map(escape_str))
        .fetch_one(pool)
        .await
        .map_err(PgDialect::map_error)?;
    let (created, live, refused): (bool, bool, bool) = (
        get(&row, "created")?,
        get(&row, "live")?,
        get(&row, "refused")?,
    );
    Ok(match (created, live, refused) {
        (true, _, _) => CreateOutcome::Created,
        (false, false, true) => CreateOutcome::Revoked,
        // A live row, or one inserted concurrently under the same key.
        (false, _, _) => CreateOutcome::AlreadyExists,
    })
}

/// [`session_core::store::SessionStore::apply`] with [`crate::sql::apply`], or with
/// [`crate::sql::apply_unguarded`] (`sql.1`) when there is no expected version and the
/// changeset binds no user.
pub(crate) async fn apply(
    pool: &PgPool,
    (guarded, unguarded): (&SqlStr, &SqlStr),
    key: &StoreKey,
    changes: &Changeset,
    expected_version: Option<u64>,
) -> Result<ApplyOutcome, StoreError> {
    if expected_version.is_none() && changes.binds_user().is_none() {
        let row = with_changes(unguarded, changes, None)?
            .bind(key.as_str())
            .fetch_optional(pool)
            .await
            .map_err(PgDialect::map_error)?;
        return Ok(match row {
            Some(row) => ApplyOutcome::Applied(version_from_db(get(&row, "version")?)?),
            None => ApplyOutcome::Missing,
        });
    }
    let row = with_changes(guarded, changes, expected_version)?
        .bind(key.as_str())
        .fetch_one(pool)
        .await
        .map_err(PgDialect::map_error)?;
    let applied: Option<i64> = get(&row, "applied")?;
    let live: Option<i64> = get(&row, "live")?;
    let refused: bool = get(&row, "refused")?;
    let expected = expected_version.map(version_to_db).transpose()?;
    Ok(match (applied, live) {
        (Some(version), _) => ApplyOutcome::Applied(version_from_db(version)?),
        (None, None) => ApplyOutcome::Missing,
        (None, Some(live)) if expected.is_some_and(|e| e != live) => ApplyOutcome::Conflict,
        (None, Some(_)) if refused => ApplyOutcome::Missing,
        // Live at the expected version in our snapshot, yet not updated: a concurrent
        // write (Conflict) or delete (nothing better to report) got there first.
        (None, Some(_)) if expected.is_some() => ApplyOutcome::Conflict,
        (None, Some(_)) => ApplyOutcome::Missing,
    })
}

/// [`session_core::store::SessionStore::rotate`] with [`crate::sql::rotate`]. A unique violation
/// (a live row inserted under `to` by a concurrent writer after the statement's snapshot)
/// is `KeyTaken`.
pub(crate) async fn rotate(
    pool: &PgPool,
    sql: &SqlStr,
    (from, to): (&StoreKey, &StoreKey),
    changes: &Changeset,
    expected_version: Option<u64>,
) -> Result<RotateOutcome, StoreError> {
    let done = with_changes(sql, changes, expected_version)?
        .bind(from.as_str())
        .bind(to.as_str())
        .fetch_one(pool)
        .await;
    let row = match done {
        Ok(row) => row,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {
            return Ok(RotateOutcome::KeyTaken);
        }
        Err(e) => return Err(PgDialect::map_error(e)),
    };
    let rotated: Option<i64> = get(&row, "rotated")?;
    let live: Option<i64> = get(&row, "live")?;
    Ok(match (rotated, live) {
        (Some(version), _) => RotateOutcome::Rotated(version_from_db(version)?),
        (None, None) => RotateOutcome::Missing,
        (None, Some(_)) if get(&row, "conflict")? => RotateOutcome::Conflict,
        (None, Some(_)) if get(&row, "taken")? => RotateOutcome::KeyTaken,
        // The row was locked, so only the revocation rule stops it: it was deleted.
        (None, Some(_)) => RotateOutcome::Missing,
    })
}
