//! The one-statement `UPDATE … RETURNING` behind `apply`, and its `UPDATE OR REPLACE`
//! sibling behind `rotate`.
//!
//! Only the keys named in the changeset are touched, inside SQLite with its JSON
//! functions, so concurrent writers of different keys never overwrite each other:
//!
//! ```sql
//! UPDATE "sessions" SET
//!   data = json_set(json_remove(data, ?, …), ?, json(?), …),  -- or '{}' as base when cleared
//!   [expires_at = ?,] [user_id = ?, authenticated_at = ?,] [persistent = ?,] [label = ?,]
//!   last_seen = ?, version = version + 1
//! WHERE key = ? AND expires_at > ? [AND version = ?]
//!   [AND NOT EXISTS (<a revocation of the user the changeset binds, after it began>)]
//! RETURNING version
//! ```
//!
//! `rotate` is the same `SET` with `key = ?` in front, as `UPDATE OR REPLACE` (so an
//! expired leftover under the new key gives way), guarded against a live row under the new
//! key and against a revocation of the resulting owner (see [`rotate`]).
//!
//! Keys travel as bound JSON paths (see [`crate::codec::json_path`]) and values as bound
//! JSON text, never spliced into the SQL.

use session_core::{
    Timestamp,
    store::{Base, Changeset, StoreError, StoreKey},
};
use sqlx::{QueryBuilder, Sqlite};
use store_sql::version_to_db;

use crate::codec::{encode_data, encode_value, json_path};
use crate::schema::Tables;

/// The statement for `apply`; it returns one row (the new version) when applied.
pub(crate) fn apply(
    tables: &Tables,
    key: &StoreKey,
    changes: &Changeset,
    expected_version: Option<i64>,
    now: Timestamp,
) -> Result<QueryBuilder<Sqlite>, StoreError> {
    let mut q = QueryBuilder::new(format!("UPDATE {} SET ", tables.sessions));
    push_set(&mut q, changes)?;
    push_live(&mut q, key, expected_version, now);
    push_unrevoked_returning(&mut q, tables, changes, key);
    Ok(q)
}

/// The statement for an `apply` whose changeset carries its [`Base`]: the whole resulting
/// data bound as one JSON text, guarded by the loaded version, so SQLite neither parses
/// nor re-renders the stored document (its JSON functions cost about 49k instructions per
/// write of a 20-key session under callgrind, more than the rest of the write). Nothing
/// matches when another write landed since the load; the caller then runs [`apply`],
/// which merges key by key.
pub(crate) fn apply_whole(
    tables: &Tables,
    key: &StoreKey,
    changes: &Changeset,
    base: &Base,
    now: Timestamp,
) -> Result<QueryBuilder<Sqlite>, StoreError> {
    let data = encode_data(base.unchanged.iter().chain(&changes.set));
    let mut q = QueryBuilder::new(format!("UPDATE {} SET data = ", tables.sessions));
    q.push_bind(data).push(", ");
    push_rest(&mut q, changes);
    push_live(&mut q, key, Some(version_to_db(base.version)?), now);
    push_unrevoked_returning(&mut q, tables, changes, key);
    Ok(q)
}

/// The statement for `rotate`'s common case; it returns one row (the new version) when the
/// record moved. Nothing matches when the record under `from` is not live (or not at the
/// expected version), a live record holds `to`, or the resulting owner was revoked after
/// the request began (unless by a revocation that kept `from`).
pub(crate) fn rotate(
    tables: &Tables,
    from: &StoreKey,
    to: &StoreKey,
    changes: &Changeset,
    expected_version: Option<i64>,
    now: Timestamp,
) -> Result<QueryBuilder<Sqlite>, StoreError> {
    let t = &tables.sessions;
    let mut q = QueryBuilder::new(format!("UPDATE OR REPLACE {t} SET key = "));
    q.push_bind(to.as_str()).push(", ");
    push_set(&mut q, changes)?;
    push_live(&mut q, from, expected_version, now);
    q.push(format!(
        " AND NOT EXISTS (SELECT 1 FROM {t} AS taken WHERE taken.key = "
    ))
    .push_bind(to.as_str())
    .push(" AND taken.expires_at > ")
    .push_bind(now.as_millis());
    q.push(") AND NOT EXISTS (SELECT 1 FROM ")
        .push(&tables.revocations)
        .push(" AS r WHERE r.user_id = ");
    match &changes.user {
        Some(user) => q.push_bind(user.as_deref()),
        None => q.push(format!("{t}.user_id")),
    };
    push_revoked_tail(&mut q, changes, from);
    q.push(" RETURNING version");
    Ok(q)
}

/// `data = …, expires_at = ?, …, version = version + 1`: the record with `changes`
/// applied, as `session_core::store::Record::apply` defines it.
fn push_set(q: &mut QueryBuilder<Sqlite>, changes: &Changeset) -> Result<(), StoreError> {
    push_data(q, changes)?;
    push_rest(q, changes);
    Ok(())
}

/// Every assignment of [`push_set`] but the data's.
fn push_rest(q: &mut QueryBuilder<Sqlite>, changes: &Changeset) {
    // SQLite rewrites the entry of every index whose column a `SET` assigns, same value
    // or not: a deadline that stays is left out, so the write dirties one page, not two.
    if !changes.keeps_deadline {
        q.push("expires_at = ")
            .push_bind(changes.expires_at.as_millis())
            .push(", ");
    }
    if let Some(user) = &changes.user {
        let authenticated_at = changes.authenticated_at.filter(|_| user.is_some());
        q.push("user_id = ").push_bind(user.as_deref());
        q.push(", authenticated_at = ")
            .push_bind(authenticated_at.map(Timestamp::as_millis))
            .push(", ");
    }
    if let Some(persistent) = changes.persistent {
        q.push("persistent = ").push_bind(persistent).push(", ");
    }
    if let Some(label) = &changes.label {
        q.push("label = ").push_bind(label.clone()).push(", ");
    }
    q.push("last_seen = ")
        .push_bind(changes.began_at.as_millis());
    q.push(", version = version + 1");
}

/// ` WHERE key = ? AND expires_at > ? [AND version = ?]`.
fn push_live(
    q: &mut QueryBuilder<Sqlite>,
    key: &StoreKey,
    expected_version: Option<i64>,
    now: Timestamp,
) {
    q.push(" WHERE key = ")
        .push_bind(key.as_str())
        .push(" AND expires_at > ")
        .push_bind(now.as_millis());
    if let Some(version) = expected_version {
        q.push(" AND version = ").push_bind(version);
    }
}

/// `apply`'s tail: for a changeset that binds a user, no revocation of that user since the
/// request began; then `RETURNING version`.
fn push_unrevoked_returning(
    q: &mut QueryBuilder<Sqlite>,
    tables: &Tables,
    changes: &Changeset,
    key: &StoreKey,
) {
    if let Some(user) = changes.binds_user() {
        q.push(" AND NOT EXISTS (SELECT 1 FROM ")
            .push(&tables.revocations)
            .push(" AS r WHERE r.user_id = ")
            .push_bind(user);
        push_revoked_tail(q, changes, key);
    }
    q.push(" RETURNING version");
}

/// The rest of a revocation sub-select: later than the request's start, and not the
/// revocation that kept `key`. Strict: a revocation at the very instant the request began
/// does not refuse it.
fn push_revoked_tail(q: &mut QueryBuilder<Sqlite>, changes: &Changeset, key: &StoreKey) {
    q.push(" AND r.revoked_at > ")
        .push_bind(changes.began_at.as_millis())
        .push(" AND (r.kept_key IS NULL OR r.kept_key <> ")
        .push_bind(key.as_str())
        .push("))");
}

/// Pushes `data = <new value>, ` unless the changeset leaves `data` alone.
fn push_data(q: &mut QueryBuilder<Sqlite>, changes: &Changeset) -> Result<(), StoreError> {
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
            q.push(", json(").push_bind(encode_value(value)).push(")");
        }
        q.push(")");
    }
    q.push(", ");
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use store_sql::Ident;

    use super::*;

    fn tables() -> Tables {
        Tables::new(&Ident::new("sessions").expect("valid"))
    }

    fn sql(changes: &Changeset, expected: Option<i64>) -> String {
        let key = StoreKey::random();
        let q = apply(&tables(), &key, changes, expected, Timestamp::now()).expect("builds");
        q.sql().as_str().to_owned()
    }

    #[test]
    fn only_named_keys_are_touched_and_a_login_checks_revocations() {
        let mut changes = Changeset::new(Timestamp::from_millis(1));
        changes.removed.insert("old".into());
        changes.set.insert("a".into(), json!(1).into());
        changes.set.insert("b".into(), json!(2).into());
        changes.user = Some(Some("u".into()));
        assert_eq!(
            sql(&changes, Some(3)),
            "UPDATE \"sessions\" SET data = json_set(json_remove(data, ?), ?, json(?), ?, json(?)), \
             expires_at = ?, user_id = ?, authenticated_at = ?, last_seen = ?, \
             version = version + 1 WHERE key = ? AND expires_at > ? AND version = ? \
             AND NOT EXISTS (SELECT 1 FROM \"sessions_revocations\" AS r WHERE r.user_id = ? \
             AND r.revoked_at > ? AND (r.kept_key IS NULL OR r.kept_key <> ?)) RETURNING version"
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
             last_seen = ?, version = version + 1 WHERE key = ? AND expires_at > ? RETURNING version"
        );
        let mut logout = Changeset::new(Timestamp::from_millis(1));
        logout.user = Some(None);
        assert_eq!(
            sql(&logout, None),
            "UPDATE \"sessions\" SET expires_at = ?, user_id = ?, authenticated_at = ?, \
             last_seen = ?, version = version + 1 WHERE key = ? AND expires_at > ? RETURNING version"
        );
    }

    #[test]
    fn a_kept_deadline_is_not_assigned() {
        let mut changes = Changeset::new(Timestamp::from_millis(1));
        changes.set.insert("a".into(), json!(1).into());
        changes.keeps_deadline = true;
        assert_eq!(
            sql(&changes, None),
            "UPDATE \"sessions\" SET data = json_set(data, ?, json(?)), last_seen = ?, \
             version = version + 1 WHERE key = ? AND expires_at > ? RETURNING version"
        );
    }

    #[test]
    fn rotation_moves_the_key_and_checks_the_stored_owner() {
        let (from, to) = (StoreKey::random(), StoreKey::random());
        let changes = Changeset::new(Timestamp::from_millis(1));
        let q = rotate(&tables(), &from, &to, &changes, None, Timestamp::now()).expect("builds");
        assert_eq!(
            q.sql().as_str(),
            "UPDATE OR REPLACE \"sessions\" SET key = ?, expires_at = ?, last_seen = ?, \
             version = version + 1 \
             WHERE key = ? AND expires_at > ? \
             AND NOT EXISTS (SELECT 1 FROM \"sessions\" AS taken WHERE taken.key = ? \
             AND taken.expires_at > ?) \
             AND NOT EXISTS (SELECT 1 FROM \"sessions_revocations\" AS r \
             WHERE r.user_id = \"sessions\".user_id \
             AND r.revoked_at > ? AND (r.kept_key IS NULL OR r.kept_key <> ?)) RETURNING version"
        );
    }
}
