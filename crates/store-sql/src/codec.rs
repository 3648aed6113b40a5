//! From rows to `Record`s and `SessionSummary`s, and versions between `u64` and the
//! signed 64-bit integer columns.

use session_core::{
    SessionSummary, Timestamp,
    store::{Record, StoreError, StoreKey},
};
use sqlx::{ColumnIndex, Database, Row};

use crate::{ColumnType, Dialect};

/// The columns [`record_from_row`] reads, in SELECT order.
pub const RECORD_COLUMNS: &str = "data, created_at, expires_at, user_id, authenticated_at, persistent, version, last_seen, label";

/// The columns [`summary_from_row`] reads, in SELECT order.
pub const SUMMARY_COLUMNS: &str = "key, created_at, expires_at, last_seen, authenticated_at, label";

/// A version for the `version` column (signed 64-bit).
pub fn version_to_db(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::Encode(format!("version {version} too large")))
}

/// A version read back from the `version` column; a negative one is corrupt.
pub fn version_from_db(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version).map_err(|_| StoreError::Corrupt(format!("negative version {version}")))
}

/// Decodes a row selected with [`RECORD_COLUMNS`].
pub fn record_from_row<D: Dialect>(row: &<D::Db as Database>::Row) -> Result<Record, StoreError>
where
    for<'a> &'a str: ColumnIndex<<D::Db as Database>::Row>,
    i64: ColumnType<D::Db>,
    bool: ColumnType<D::Db>,
    String: ColumnType<D::Db>,
{
    let get = |column| row.try_get::<i64, _>(column).map_err(D::map_error);
    let data = D::decode_data(row)?;
    let user: Option<String> = row.try_get("user_id").map_err(D::map_error)?;
    let authenticated_at: Option<i64> = row.try_get("authenticated_at").map_err(D::map_error)?;
    let created_at = Timestamp::from_millis(get("created_at")?);
    Ok(Record {
        data,
        created_at,
        expires_at: Timestamp::from_millis(get("expires_at")?),
        user: user.map(D::decode_text).transpose()?,
        authenticated_at: authenticated_at.map(Timestamp::from_millis),
        persistent: row.try_get("persistent").map_err(D::map_error)?,
        version: version_from_db(get("version")?)?,
        last_seen: last_seen::<D>(row, created_at)?,
        label: label::<D>(row)?,
    })
}

/// `last_seen`; rows written before the column existed hold NULL and were last seen, as
/// far as we know, when created.
fn last_seen<D: Dialect>(
    row: &<D::Db as Database>::Row,
    created_at: Timestamp,
) -> Result<Timestamp, StoreError>
where
    for<'a> &'a str: ColumnIndex<<D::Db as Database>::Row>,
    i64: ColumnType<D::Db>,
{
    let at: Option<i64> = row.try_get("last_seen").map_err(D::map_error)?;
    Ok(at.map_or(created_at, Timestamp::from_millis))
}

fn label<D: Dialect>(row: &<D::Db as Database>::Row) -> Result<Option<String>, StoreError>
where
    for<'a> &'a str: ColumnIndex<<D::Db as Database>::Row>,
    String: ColumnType<D::Db>,
{
    let label: Option<String> = row.try_get("label").map_err(D::map_error)?;
    label.map(D::decode_text).transpose()
}

/// Decodes a [`SUMMARY_COLUMNS`] row of the per-user index.
pub fn summary_from_row<D: Dialect>(
    row: &<D::Db as Database>::Row,
) -> Result<SessionSummary, StoreError>
where
    for<'a> &'a str: ColumnIndex<<D::Db as Database>::Row>,
    i64: ColumnType<D::Db>,
    String: ColumnType<D::Db>,
{
    let get = |column| row.try_get::<i64, _>(column).map_err(D::map_error);
    let key: String = row.try_get("key").map_err(D::map_error)?;
    let created_at = Timestamp::from_millis(get("created_at")?);
    let authenticated_at: Option<i64> = row.try_get("authenticated_at").map_err(D::map_error)?;
    Ok(SessionSummary {
        key: StoreKey::parse(&key)
            .ok_or_else(|| StoreError::Corrupt("stored key is not a store key".into()))?,
        created_at,
        expires_at: Timestamp::from_millis(get("expires_at")?),
        last_seen: last_seen::<D>(row, created_at)?,
        authenticated_at: authenticated_at.map(Timestamp::from_millis),
        label: label::<D>(row)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_outside_the_other_range_are_refused() {
        assert_eq!(version_to_db(7).ok(), Some(7));
        assert!(matches!(
            version_to_db(u64::MAX),
            Err(StoreError::Encode(_))
        ));
        assert_eq!(version_from_db(7).ok(), Some(7));
        assert!(matches!(version_from_db(-1), Err(StoreError::Corrupt(_))));
    }
}
