//! The document layout: records to BSON and back, and the update document of `apply`.
//!
//! ```text
//! { _id: "<store key hex>",
//!   data: { "<escaped key>": "<value as JSON text>", ... },
//!   created_at: Date, expires_at: Date, user: "<principal>" | null,
//!   authenticated_at: Date | null,   // absent in documents written before it existed
//!   persistent: bool, version: Int64,
//!   last_seen: Date,                 // absent before issue 12: read as created_at
//!   label: "<app's label>" | null }  // absent before issue 12: read as none
//! ```
//!
//! Two transient shapes share the collection (see the crate README, "Rotation and
//! revocation"): a rotation's *pending* placeholder `{ _id, user, pending_until: Date }`,
//! which has no `expires_at` and so matches no liveness filter, and a binding `apply`'s
//! intents `binds: [{ u: "<user>", t: ObjectId }]` inside a session document.
//!
//! Values are stored as their JSON text, not as native BSON: BSON has no integer above
//! `i64::MAX` (so `u64::MAX` would not survive), and object keys inside a value may hold
//! `.`, `$` or NUL. JSON text round-trips every `serde_json::Value` exactly, at the cost of
//! values not being queryable with MongoDB operators (sessions are only ever looked up by
//! `_id` and `user`, so nothing is lost).

use mongodb::bson::{Bson, DateTime, Document, doc};
use session_core::{
    SessionSummary, Timestamp,
    store::{Changeset, Data, RawJson, Record, StoreError, StoreKey},
};

use crate::escape::{escape_key, unescape_key};

/// Field names of the stored document.
pub mod field {
    /// The store key.
    pub const ID: &str = "_id";
    /// The data subdocument.
    pub const DATA: &str = "data";
    /// Creation time (BSON date).
    pub const CREATED_AT: &str = "created_at";
    /// Idle deadline (BSON date), carries the TTL index.
    pub const EXPIRES_AT: &str = "expires_at";
    /// The principal, or null; carries the per-user index.
    pub const USER: &str = "user";
    /// When the principal signed in (BSON date), or null.
    pub const AUTHENTICATED_AT: &str = "authenticated_at";
    /// The "remember me" flag.
    pub const PERSISTENT: &str = "persistent";
    /// Bumped by every write (Int64).
    pub const VERSION: &str = "version";
    /// When a request last saved or touched the session (BSON date).
    pub const LAST_SEEN: &str = "last_seen";
    /// The application's label for the session, or null.
    pub const LABEL: &str = "label";
    /// Only on a rotation's pending placeholder: when the TTL monitor may drop it.
    pub const PENDING_UNTIL: &str = "pending_until";
    /// A binding `apply`'s intents in flight: an array of `{ u: user, t: token }`.
    pub const BINDS: &str = "binds";
    /// The user of one intent in [`BINDS`].
    pub const BIND_USER: &str = "u";
    /// The token of one intent in [`BINDS`].
    pub const BIND_TOKEN: &str = "t";
}

/// A timestamp as a BSON date (both are milliseconds since the epoch, so it is exact).
pub fn date(t: Timestamp) -> DateTime {
    DateTime::from_millis(t.as_millis())
}

/// The filter matching the live record under `key` at `now`.
pub fn live(key: &StoreKey, now: Timestamp) -> Document {
    doc! { field::ID: key.as_str(), field::EXPIRES_AT: { "$gt": date(now) } }
}

/// The filter matching the live records of `user` at `now`.
pub fn live_of_user(user: &str, now: Timestamp) -> Document {
    doc! { field::USER: user, field::EXPIRES_AT: { "$gt": date(now) } }
}

/// The whole document stored by `create`.
pub fn record_to_doc(key: &StoreKey, record: &Record) -> Result<Document, StoreError> {
    Ok(doc! {
        field::ID: key.as_str(),
        field::DATA: data_to_doc(&record.data),
        field::CREATED_AT: date(record.created_at),
        field::EXPIRES_AT: date(record.expires_at),
        field::USER: user_bson(record.user.as_deref()),
        field::AUTHENTICATED_AT: optional_date(record.authenticated_at),
        field::PERSISTENT: record.persistent,
        field::VERSION: version_to_i64(record.version)?,
        field::LAST_SEEN: date(record.last_seen),
        field::LABEL: user_bson(record.label.as_deref()),
    })
}

/// The single update document of `apply`.
///
/// Not cleared: `$set` of `data.<k>` for every set key, `$unset` of `data.<k>` for every
/// removed key that is not set again. Cleared: `$set` of the whole `data` subdocument to
/// just the set keys (clear, remove, then set leaves exactly those). Both also `$set` the
/// deadline (and `user` with `authenticated_at`, or `persistent`, when they changed) and
/// `$inc` the version, as [`Record::apply`] does.
pub fn apply_update(changes: &Changeset) -> Result<Document, StoreError> {
    let mut set = Document::new();
    let mut unset = Document::new();
    if changes.cleared {
        set.insert(field::DATA, data_to_doc(&changes.set));
    } else {
        for (k, v) in &changes.set {
            set.insert(data_path(k), encode_value(v));
        }
        for k in changes
            .removed
            .iter()
            .filter(|k| !changes.set.contains_key(*k))
        {
            unset.insert(data_path(k), "");
        }
    }
    set.insert(field::EXPIRES_AT, date(changes.expires_at));
    if let Some(user) = &changes.user {
        set.insert(field::USER, user_bson(user.as_deref()));
        let since = changes.authenticated_at.filter(|_| user.is_some());
        set.insert(field::AUTHENTICATED_AT, optional_date(since));
    }
    if let Some(persistent) = changes.persistent {
        set.insert(field::PERSISTENT, persistent);
    }
    if let Some(label) = &changes.label {
        set.insert(field::LABEL, user_bson(label.as_deref()));
    }
    set.insert(field::LAST_SEEN, date(changes.began_at));
    let mut update = doc! { "$set": set, "$inc": { field::VERSION: 1_i64 } };
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    Ok(update)
}

/// A rotation's pending placeholder for `key`: owned by `user` (so a revocation's
/// cleanup finds it), without `expires_at` (so nothing loads, lists or updates it), and
/// dropped by the TTL monitor after `until` if the rotation never finishes.
pub fn pending_doc(key: &StoreKey, user: Option<&str>, until: Timestamp) -> Document {
    doc! {
        field::ID: key.as_str(),
        field::USER: user_bson(user),
        field::PENDING_UNTIL: date(until),
    }
}

/// The filter matching the pending placeholder under `key`.
pub fn pending(key: &StoreKey) -> Document {
    doc! { field::ID: key.as_str(), field::PENDING_UNTIL: { "$exists": true } }
}

/// The `user` field of a stored (or projected) document.
pub fn user(doc: &Document) -> Result<Option<String>, StoreError> {
    match doc.get(field::USER) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(u)) => Ok(Some(u.clone())),
        Some(_) => Err(corrupt("`user` is not a string")),
    }
}

/// The filter value matching a stored `user` field equal to `user` (null for none).
pub fn user_bson(user: Option<&str>) -> Bson {
    user.map_or(Bson::Null, |u| Bson::String(u.to_owned()))
}

fn optional_date(t: Option<Timestamp>) -> Bson {
    t.map_or(Bson::Null, |t| Bson::DateTime(date(t)))
}

fn data_path(key: &str) -> String {
    format!("{}.{}", field::DATA, escape_key(key))
}

fn data_to_doc(data: &Data) -> Document {
    data.iter()
        .map(|(k, v)| (escape_key(k), encode_value(v)))
        .collect()
}

fn encode_value(value: &RawJson) -> Bson {
    Bson::String(value.as_str().to_owned())
}

fn version_to_i64(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::Encode(format!("version {version} too large")))
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The record held by a stored document.
pub fn doc_to_record(doc: &Document) -> Result<Record, StoreError> {
    let data_doc = doc
        .get_document(field::DATA)
        .map_err(|_| corrupt("`data` is missing or not a document"))?;
    let mut data = Data::new();
    for (name, value) in data_doc {
        let key = unescape_key(name).ok_or_else(|| corrupt("a data key is badly escaped"))?;
        let Bson::String(text) = value else {
            return Err(corrupt("a data value is not JSON text"));
        };
        let value =
            RawJson::parse(text.clone()).map_err(|e| corrupt(format!("data value: {e}")))?;
        data.insert(key, value);
    }
    let authenticated_at = match doc.get(field::AUTHENTICATED_AT) {
        // Documents written before the field existed have none.
        None | Some(Bson::Null) => None,
        Some(Bson::DateTime(d)) => Some(Timestamp::from_millis(d.timestamp_millis())),
        Some(_) => return Err(corrupt("`authenticated_at` is not a date")),
    };
    let created_at = timestamp(doc, field::CREATED_AT)?;
    Ok(Record {
        data,
        created_at,
        expires_at: timestamp(doc, field::EXPIRES_AT)?,
        user: user(doc)?,
        authenticated_at,
        persistent: doc
            .get_bool(field::PERSISTENT)
            .map_err(|_| corrupt("`persistent` is missing or not a bool"))?,
        version: version(doc)?,
        last_seen: last_seen(doc, created_at)?,
        label: label(doc)?,
    })
}

/// `last_seen`; documents written before the field existed read as seen when created.
fn last_seen(doc: &Document, created_at: Timestamp) -> Result<Timestamp, StoreError> {
    match doc.get(field::LAST_SEEN) {
        None | Some(Bson::Null) => Ok(created_at),
        Some(Bson::DateTime(d)) => Ok(Timestamp::from_millis(d.timestamp_millis())),
        Some(_) => Err(corrupt("`last_seen` is not a date")),
    }
}

fn label(doc: &Document) -> Result<Option<String>, StoreError> {
    match doc.get(field::LABEL) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(l)) => Ok(Some(l.clone())),
        Some(_) => Err(corrupt("`label` is not a string")),
    }
}

/// The projection [`doc_to_summary`] reads.
pub fn summary_projection() -> Document {
    doc! {
        field::ID: 1, field::CREATED_AT: 1, field::EXPIRES_AT: 1, field::LAST_SEEN: 1,
        field::AUTHENTICATED_AT: 1, field::LABEL: 1,
    }
}

/// The per-user index entry held by a document projected with [`summary_projection`].
pub fn doc_to_summary(doc: &Document) -> Result<SessionSummary, StoreError> {
    let key = doc
        .get_str(field::ID)
        .ok()
        .and_then(StoreKey::parse)
        .ok_or_else(|| corrupt("`_id` is not a store key"))?;
    let created_at = timestamp(doc, field::CREATED_AT)?;
    let authenticated_at = match doc.get(field::AUTHENTICATED_AT) {
        None | Some(Bson::Null) => None,
        Some(Bson::DateTime(d)) => Some(Timestamp::from_millis(d.timestamp_millis())),
        Some(_) => return Err(corrupt("`authenticated_at` is not a date")),
    };
    Ok(SessionSummary {
        key,
        created_at,
        expires_at: timestamp(doc, field::EXPIRES_AT)?,
        last_seen: last_seen(doc, created_at)?,
        authenticated_at,
        label: label(doc)?,
    })
}

fn timestamp(doc: &Document, name: &str) -> Result<Timestamp, StoreError> {
    doc.get_datetime(name)
        .map(|d| Timestamp::from_millis(d.timestamp_millis()))
        .map_err(|_| corrupt(format!("`{name}` is missing or not a date")))
}

/// The `version` field of a stored (or projected) document.
pub fn version(doc: &Document) -> Result<u64, StoreError> {
    let v = match doc.get(field::VERSION) {
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Int32(v)) => i64::from(*v),
        _ => return Err(corrupt("`version` is missing or not an integer")),
    };
    u64::try_from(v).map_err(|_| corrupt("`version` is negative"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Record {
        let mut r = Record::new(
            Timestamp::from_millis(1_000),
            Timestamp::from_millis(9_000),
            true,
        );
        r.data.insert(
            "a.b$".into(),
            json!({"x.y": u64::MAX, "$z": [null, 1.5]}).into(),
        );
        r.data.insert(String::new(), json!("nul\0").into());
        r.user = Some("u".into());
        r.authenticated_at = Some(Timestamp::from_millis(1_234));
        r.version = 4;
        r
    }

    #[test]
    fn a_document_without_authenticated_at_decodes_to_none() {
        let mut doc = record_to_doc(&StoreKey::random(), &record()).expect("encode");
        doc.remove(field::AUTHENTICATED_AT);
        let decoded = doc_to_record(&doc).expect("decode");
        assert_eq!(decoded.authenticated_at, None);
        doc.insert(field::AUTHENTICATED_AT, "yesterday");
        assert!(matches!(doc_to_record(&doc), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn binding_update_sets_authenticated_at_and_unbinding_clears_it() {
        let mut c = Changeset::new(Timestamp::from_millis(5));
        c.user = Some(Some("u".into()));
        c.authenticated_at = Some(Timestamp::from_millis(3));
        let update = apply_update(&c).expect("encode");
        let set = update.get_document("$set").expect("$set");
        assert_eq!(
            set.get("authenticated_at"),
            Some(&Bson::DateTime(DateTime::from_millis(3)))
        );
        c.user = Some(None);
        let update = apply_update(&c).expect("encode");
        let set = update.get_document("$set").expect("$set");
        assert_eq!(set.get("authenticated_at"), Some(&Bson::Null));
    }

    #[test]
    fn record_round_trips_through_a_document() {
        let key = StoreKey::random();
        let doc = record_to_doc(&key, &record()).expect("encode");
        assert_eq!(doc_to_record(&doc).expect("decode"), record());
    }

    #[test]
    fn update_sets_and_unsets_escaped_paths() {
        let mut c = Changeset::new(Timestamp::from_millis(5));
        c.began_at = Timestamp::from_millis(2);
        c.set.insert("a.b".into(), json!(1).into());
        c.removed.insert("a.b".into());
        c.removed.insert("$gone".into());
        c.user = Some(None);
        let update = apply_update(&c).expect("encode");
        let expected = doc! {
            "$set": {
                "data.a%2Eb": "1",
                "expires_at": DateTime::from_millis(5),
                "user": null,
                "authenticated_at": null,
                "last_seen": DateTime::from_millis(2),
            },
            "$inc": { "version": 1_i64 },
            "$unset": { "data.%24gone": "" },
        };
        assert_eq!(update, expected);
    }

    #[test]
    fn cleared_update_replaces_the_data_subdocument() {
        let mut c = Changeset::new(Timestamp::from_millis(5));
        c.began_at = Timestamp::from_millis(2);
        c.label = Some(Some("Firefox".into()));
        c.cleared = true;
        c.removed.insert("old".into());
        c.set.insert(String::new(), json!(true).into());
        c.persistent = Some(false);
        let update = apply_update(&c).expect("encode");
        let expected = doc! {
            "$set": {
                "data": { "%": "true" },
                "expires_at": DateTime::from_millis(5),
                "persistent": false,
                "label": "Firefox",
                "last_seen": DateTime::from_millis(2),
            },
            "$inc": { "version": 1_i64 },
        };
        assert_eq!(update, expected);
    }
}
