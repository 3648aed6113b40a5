//! The one `UPDATE … RETURNING` statement behind `apply`.
//!
//! Only the keys named in the changeset are touched, inside SQLite with its JSON
//! functions, so concurrent writers of different keys never overwrite each other:
//!
//! ```sql
//! UPDATE "sessions" SET
//!   data = json_set(json_remove(data, ?, …), ?, json(?), …),  -- or '{}' as base when cleared
//!   expires_at = ?, [user_id = ?,] [persistent = ?,] version = version + 1
//! WHERE key = ? AND expires_at > ? [AND version = ?]
//! RETURNING version
//! ```
//!
//! Keys travel as bound JSON paths (see [`crate::codec::json_path`]) and values as bound
//! JSON text, never spliced into the SQL.

use session_core::{Changeset, StoreError, StoreKey, Timestamp};
use sqlx::{QueryBuilder, Sqlite};
use store_sql::Ident;

use crate::codec::{encode_value, json_path};

/// Builds the statement for `changes`; it returns one row (the new version) when applied.
pub(crate) fn statement<'a>(
    table: &Ident,
    key: &'a StoreKey,
    changes: &'a Changeset,
    expected_version: Option<i64>,
    now: Timestamp,
) -> Result<QueryBuilder<'a, Sqlite>, StoreError> {
    let mut q = QueryBuilder::new(format!("UPDATE \"{table}\" SET "));
    push_data(&mut q, changes)?;
    q.push("expires_at = ")
        .push_bind(changes.expires_at.as_millis());
    if let Some(user) = &changes.user {
        q.push(", user_id = ").push_bind(user.as_deref());
    }
    if let Some(persistent) = changes.persistent {
        q.push(", persistent = ").push_bind(persistent);
    }
    q.push(", version = version + 1 WHERE key = ")
        .push_bind(key.as_str())
        .push(" AND expires_at > ")
        .push_bind(now.as_millis());
    if let Some(version) = expected_version {
        q.push(" AND version = ").push_bind(version);
    }
    q.push(" RETURNING version");
    Ok(q)
}

/// Pushes `data = <new value>, ` unless the changeset leaves `data` alone.
fn push_data<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    changes: &'a Changeset,
) -> Result<(), StoreError> {
    let removes = !changes.cleared && !changes.removed.is_empty();
    if !changes.cleared && !removes && changes.set.is_empty() {
        return Ok(());
    }
    q.push("data = ");
    if !changes.set.is_empty() {
        q.push("json_set(");
    }
    if changes.cleared {
        q.push("'{}'");
    } else if removes {
        q.push("json_remove(data");
        for key in &changes.removed {
            q.push(", ").push_bind(json_path(key));
        }
        q.push(")");
    } else {
        q.push("data");
    }
    if !changes.set.is_empty() {
        for (key, value) in &changes.set {
            q.push(", ").push_bind(json_path(key));
            q.push(", json(").push_bind(encode_value(value)?).push(")");
        }
        q.push(")");
    }
    q.push(", ");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sql(changes: &Changeset, expected: Option<i64>) -> String {
        let table = Ident::new("sessions").expect("valid");
        let key = StoreKey::random();
        let q = statement(&table, &key, changes, expected, Timestamp::now()).expect("builds");
        q.sql().to_owned()
    }

    #[test]
    fn only_named_keys_are_touched() {
        let mut changes = Changeset::new(Timestamp::from_millis(1));
        changes.removed.insert("old".into());
        changes.set.insert("a".into(), json!(1));
        changes.set.insert("b".into(), json!(2));
        changes.user = Some(Some("u".into()));
        assert_eq!(
            sql(&changes, Some(3)),
            "UPDATE \"sessions\" SET data = json_set(json_remove(data, ?), ?, json(?), ?, json(?)), \
             expires_at = ?, user_id = ?, version = version + 1 \
             WHERE key = ? AND expires_at > ? AND version = ? RETURNING version"
        );
    }

    #[test]
    fn clearing_starts_from_an_empty_object_and_deadline_only_leaves_data_alone() {
        let mut changes = Changeset::new(Timestamp::from_millis(1));
        changes.cleared = true;
        changes.removed.insert("ignored".into());
        changes.persistent = Some(true);
        assert_eq!(
            sql(&changes, None),
            "UPDATE \"sessions\" SET data = '{}', expires_at = ?, persistent = ?, \
             version = version + 1 WHERE key = ? AND expires_at > ? RETURNING version"
        );
        assert_eq!(
            sql(&Changeset::new(Timestamp::from_millis(1)), None),
            "UPDATE \"sessions\" SET expires_at = ?, version = version + 1 \
             WHERE key = ? AND expires_at > ? RETURNING version"
        );
    }
}
