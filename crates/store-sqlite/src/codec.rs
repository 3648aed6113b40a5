//! Between `Record`s and SQLite rows: JSON text for `data`, integers for the rest, and
//! JSON paths that address any key, however awkward.

use session_core::{Data, Record, SessionSummary, StoreError, StoreKey, Timestamp};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::error;

/// The columns `record_from_row` reads, in SELECT order.
pub(crate) const RECORD_COLUMNS: &str =
    "data, created_at, expires_at, user_id, persistent, version";

/// The JSON text stored in the `data` column.
pub(crate) fn encode_data(data: &Data) -> Result<String, StoreError> {
    serde_json::to_string(data).map_err(|e| StoreError::Encode(e.to_string()))
}

/// One value as JSON text, for `json(?)`.
pub(crate) fn encode_value(value: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Encode(e.to_string()))
}

/// A JSON path (`$."…"`) naming the top-level member `key`.
///
/// SQLite ends a quoted path label at the first `"` and does not accept raw control
/// characters, but it decodes JSON escapes in labels that contain a backslash. So `"`,
/// `\` and every control character (NUL included) are written as `\uXXXX`, and every
/// other character as itself: any string, even `""` or `a.b.c`, names exactly one member.
pub(crate) fn json_path(key: &str) -> String {
    let mut path = String::with_capacity(key.len() + 5);
    path.push_str("$.\"");
    for c in key.chars() {
        if c == '"' || c == '\\' || c.is_control() {
            for unit in c.encode_utf16(&mut [0; 2]) {
                path.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            path.push(c);
        }
    }
    path.push('"');
    path
}

/// A version for the `version` column (SQLite integers are signed 64-bit).
pub(crate) fn version_to_db(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::Encode(format!("version {version} too large")))
}

fn version_from_db(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version).map_err(|_| StoreError::Corrupt(format!("negative version {version}")))
}

/// Decodes a row selected with [`RECORD_COLUMNS`].
pub(crate) fn record_from_row(row: &SqliteRow) -> Result<Record, StoreError> {
    let text: String = row.try_get("data").map_err(error::map)?;
    let data: Data = serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("data is not a JSON object: {e}")))?;
    Ok(Record {
        data,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(error::map)?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at").map_err(error::map)?),
        user: row.try_get("user_id").map_err(error::map)?,
        persistent: row.try_get("persistent").map_err(error::map)?,
        version: version_from_db(row.try_get("version").map_err(error::map)?)?,
    })
}

/// Decodes a `key, created_at, expires_at` row of the per-user index.
pub(crate) fn summary_from_row(row: &SqliteRow) -> Result<SessionSummary, StoreError> {
    let key: String = row.try_get("key").map_err(error::map)?;
    Ok(SessionSummary {
        key: StoreKey::parse(&key)
            .ok_or_else(|| StoreError::Corrupt("stored key is not a store key".into()))?,
        created_at: Timestamp::from_millis(row.try_get("created_at").map_err(error::map)?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at").map_err(error::map)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(json_path("a.b"), r#"$."a.b""#);
        assert_eq!(json_path(""), r#"$."""#);
        assert_eq!(json_path("a\"b\\c\0"), r#"$."a\u0022b\u005cc\u0000""#);
        assert_eq!(json_path("ключ🔑"), "$.\"ключ🔑\"");
    }
}
