//! The connect-mongo 6 layout, next to the native one: what an Express app's
//! `MongoStore.create({client})` reads and writes.
//!
//! - Collection `sessions`, one document per session:
//!   `{_id: <plain sid>, expires: Date, session: "<express-session JSON>"}`.
//! - `session` is a string by default (connect-mongo's `stringify: true`). Documents
//!   written with `stringify: false` (a sub-document, `null` for unset cookie fields, BSON
//!   dates) are read too; this layout writes sub-documents only when told to
//!   ([`ConnectMongoLayout::stringify`]) — match the Node side, or it answers 500.
//! - Read: by `_id`, then the same rule as connect-mongo's
//!   `{_id, $or: [{expires: {$exists: false}}, {expires: {$gt: now}}]}` applied here: a
//!   document without `expires` never expires. (The `$or` form is avoided on purpose: the
//!   SecantusDB stand-in answers it by scanning the collection — 180 ms per lookup at 5,000
//!   documents against 2.8 ms by `_id` — and a plain `_id` lookup is what any server
//!   answers fastest.) Compare-and-set writes match `_id`, the `session` value and the
//!   `expires` value exactly as read.
//! - Touch: `$set: {expires}` only; the session string is not rewritten.
//! - Expiry: the TTL index `expires_1` (`expireAfterSeconds: 0`) that connect-mongo's
//!   `autoRemove: 'native'` creates; [`ConnectMongoLayout::migrate`] creates it too.

use std::time::Duration;

use async_trait::async_trait;
use mongodb::bson::{self, Bson, DateTime, Document, doc};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde_json::{Map, Value};
use session_core::express::{ConnectLayout, ExpressFormat, ExpressStore, Stored, iso_8601};
use session_core::{Timestamp, store::StoreError};

use crate::error::{is_duplicate_key, store_error};
use crate::timeout::{DEFAULT_OPERATION_TIMEOUT, bounded};

/// connect-mongo's default collection name.
pub const CONNECT_MONGO_COLLECTION: &str = "sessions";

/// A deadline for a document without `expires` (connect-mongo never expires it).
const NO_EXPIRY: Timestamp = Timestamp::from_millis(i64::MAX / 2);

/// Server error codes of "an index with this name exists with other options".
const INDEX_CONFLICT: [i32; 2] = [85, 86];

/// What a compare-and-set matches: the `session` and `expires` values as read.
#[derive(Debug, Clone, PartialEq)]
pub struct MongoToken {
    session: Bson,
    expires: Option<DateTime>,
}

/// The connect-mongo layout on a collection. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectMongoLayout {
    sessions: Collection<Document>,
    stringify: bool,
    limit: Duration,
}

/// The sessions an Express app on connect-mongo shares.
pub type ConnectMongoStore = ExpressStore<ConnectMongoLayout>;

impl ConnectMongoLayout {
    /// The layout on `sessions` (connect-mongo's default name is
    /// [`CONNECT_MONGO_COLLECTION`]), writing `session` as a JSON string, each operation
    /// bounded by [`DEFAULT_OPERATION_TIMEOUT`](crate::DEFAULT_OPERATION_TIMEOUT).
    pub fn new(sessions: Collection<Document>) -> Self {
        Self {
            sessions,
            stringify: true,
            limit: DEFAULT_OPERATION_TIMEOUT,
        }
    }

    /// The Node side's `stringify` option: `false` writes `session` as a sub-document.
    #[must_use]
    pub fn stringify(mut self, on: bool) -> Self {
        self.stringify = on;
        self
    }

    /// Every operation bounded by `limit` instead.
    #[must_use]
    pub fn with_operation_timeout(mut self, limit: Duration) -> Self {
        self.limit = limit;
        self
    }

    /// The collection.
    pub fn collection(&self) -> &Collection<Document> {
        &self.sessions
    }

    /// Creates the TTL index `expires_1` connect-mongo creates (`{expires: 1}`,
    /// `expireAfterSeconds: 0`); one the Node app already made is left as it is.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let index = IndexModel::builder()
            .keys(doc! { "expires": 1 })
            .options(
                IndexOptions::builder()
                    .name("expires_1".to_owned())
                    .expire_after(Duration::ZERO)
                    .build(),
            )
            .build();
        bounded(self.limit, async {
            match self.sessions.create_index(index).await {
                Ok(_) => Ok(()),
                Err(e) if server_code(&e).is_some_and(|c| INDEX_CONFLICT.contains(&c)) => Ok(()),
                Err(e) => Err(store_error(e)),
            }
        })
        .await
    }

    /// The document exactly as `token` read it.
    fn unchanged(sid: &str, token: &MongoToken) -> Document {
        let mut filter = doc! { "_id": sid, "session": token.session.clone() };
        match token.expires {
            Some(at) => filter.insert("expires", at),
            None => filter.insert("expires", doc! { "$exists": false }),
        };
        filter
    }

    fn session_bson(&self, session: &Value) -> Result<Bson, StoreError> {
        if self.stringify {
            let text = session_core::express::session_text(session)?;
            return Ok(Bson::String(text));
        }
        bson::to_bson(session).map_err(|e| StoreError::Encode(e.to_string()))
    }
}

impl crate::MongoStore {
    /// The same database's sessions in connect-mongo's layout (collection `sessions`), as a
    /// store for an Express-compatible manager.
    pub fn connect_mongo(&self, format: ExpressFormat) -> ConnectMongoStore {
        let namespace = self.collection().namespace();
        let sessions = self
            .collection()
            .client()
            .database(&namespace.db)
            .collection(CONNECT_MONGO_COLLECTION);
        ExpressStore::new(
            ConnectMongoLayout::new(sessions).with_operation_timeout(self.operation_timeout()),
            format,
        )
    }
}

fn server_code(e: &mongodb::error::Error) -> Option<i32> {
    match &*e.kind {
        mongodb::error::ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

/// A `stringify: false` session as the JSON express-session would hold: dates as ISO
/// strings (as `JSON.stringify` writes them), numbers as numbers.
fn bson_to_json(value: Bson) -> Value {
    match value {
        Bson::Document(doc) => Value::Object(
            doc.into_iter()
                .map(|(k, v)| (k, bson_to_json(v)))
                .collect::<Map<String, Value>>(),
        ),
        Bson::Array(items) => Value::Array(items.into_iter().map(bson_to_json).collect()),
        Bson::DateTime(at) => {
            Value::String(iso_8601(Timestamp::from_millis(at.timestamp_millis())))
        }
        Bson::Int32(n) => Value::from(n),
        Bson::Int64(n) => Value::from(n),
        Bson::Double(n) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
        Bson::String(s) => Value::String(s),
        Bson::Boolean(b) => Value::Bool(b),
        Bson::Null | Bson::Undefined => Value::Null,
        other => other.into_relaxed_extjson(),
    }
}

#[async_trait]
impl ConnectLayout for ConnectMongoLayout {
    type Token = MongoToken;

    async fn read(&self, sid: &str) -> Result<Option<Stored<MongoToken>>, StoreError> {
        bounded(self.limit, async {
            let found = self
                .sessions
                .find_one(doc! { "_id": sid })
                .await
                .map_err(store_error)?;
            let Some(doc) = found else {
                return Ok(None);
            };
            let (deadline, expires) = match doc.get("expires") {
                None => (NO_EXPIRY, None),
                Some(Bson::DateTime(at)) => {
                    (Timestamp::from_millis(at.timestamp_millis()), Some(*at))
                }
                Some(_) => {
                    return Err(StoreError::Corrupt(
                        "connect-mongo expires is not a date".into(),
                    ));
                }
            };
            if deadline <= Timestamp::now() {
                // Expired; the TTL monitor has not removed it yet.
                return Ok(None);
            }
            let raw = doc.get("session").cloned().unwrap_or(Bson::Null);
            let session = match &raw {
                Bson::String(text) => serde_json::from_str(text).map_err(|e| {
                    StoreError::Corrupt(format!("connect-mongo session is not JSON: {e}"))
                })?,
                Bson::Document(_) => bson_to_json(raw.clone()),
                _ => {
                    return Err(StoreError::Corrupt(
                        "connect-mongo session is neither a string nor a document".into(),
                    ));
                }
            };
            Ok(Some(Stored {
                session,
                deadline,
                token: MongoToken {
                    session: raw,
                    expires,
                },
            }))
        })
        .await
    }

    async fn insert(
        &self,
        sid: &str,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError> {
        let expires = DateTime::from_millis(deadline.as_millis());
        let document =
            doc! { "_id": sid, "expires": expires, "session": self.session_bson(session)? };
        bounded(self.limit, async {
            match self.sessions.insert_one(&document).await {
                Ok(_) => Ok(true),
                Err(e) if is_duplicate_key(&e) => {
                    // An expired leftover the TTL monitor has not removed yet may go.
                    let now = DateTime::from_millis(Timestamp::now().as_millis());
                    let dead = doc! { "_id": sid, "expires": { "$lte": now } };
                    let replaced = self
                        .sessions
                        .replace_one(dead, &document)
                        .await
                        .map_err(store_error)?;
                    Ok(replaced.matched_count == 1)
                }
                Err(e) => Err(store_error(e)),
            }
        })
        .await
    }

    async fn replace(
        &self,
        sid: &str,
        token: &MongoToken,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError> {
        let filter = Self::unchanged(sid, token);
        let update = doc! { "$set": {
            "session": self.session_bson(session)?,
            "expires": DateTime::from_millis(deadline.as_millis()),
        } };
        bounded(self.limit, async {
            let done = self
                .sessions
                .update_one(filter, update)
                .await
                .map_err(store_error)?;
            Ok(done.matched_count == 1)
        })
        .await
    }

    async fn remove(&self, sid: &str, token: &MongoToken) -> Result<bool, StoreError> {
        bounded(self.limit, async {
            let done = self
                .sessions
                .delete_one(Self::unchanged(sid, token))
                .await
                .map_err(store_error)?;
            Ok(done.deleted_count == 1)
        })
        .await
    }

    async fn expire(&self, sid: &str, deadline: Timestamp) -> Result<bool, StoreError> {
        let now = Timestamp::now();
        let update = doc! { "$set": { "expires": DateTime::from_millis(deadline.as_millis()) } };
        let live =
            doc! { "_id": sid, "expires": { "$gt": DateTime::from_millis(now.as_millis()) } };
        bounded(self.limit, async {
            let mut done = self
                .sessions
                .update_one(live, update.clone())
                .await
                .map_err(store_error)?;
            if done.matched_count == 0 {
                // A document without `expires` is live too (connect-mongo never expires it).
                let immortal = doc! { "_id": sid, "expires": { "$exists": false } };
                done = self
                    .sessions
                    .update_one(immortal, update)
                    .await
                    .map_err(store_error)?;
            }
            Ok(done.matched_count == 1 && deadline > now)
        })
        .await
    }

    async fn delete(&self, sid: &str) -> Result<(), StoreError> {
        bounded(self.limit, async {
            self.sessions
                .delete_one(doc! { "_id": sid })
                .await
                .map(drop)
                .map_err(store_error)
        })
        .await
    }

    /// The TTL index expires documents.
    async fn prune(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Pages in `_id` order (string ids only: connect-mongo's own); the cursor is the last
    /// id of the page.
    async fn list(
        &self,
        cursor: Option<String>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let filter = match &cursor {
            Some(after) => doc! { "_id": { "$gt": after.as_str() } },
            None => doc! { "_id": { "$type": "string" } },
        };
        let limit = i64::try_from(page.max(1)).unwrap_or(i64::MAX);
        bounded(self.limit, async {
            let mut found = self
                .sessions
                .find(filter)
                .projection(doc! { "_id": 1 })
                .sort(doc! { "_id": 1 })
                .limit(limit)
                .await
                .map_err(store_error)?;
            let mut sids = Vec::new();
            while found.advance().await.map_err(store_error)? {
                let doc = found.deserialize_current().map_err(store_error)?;
                if let Ok(sid) = doc.get_str("_id") {
                    sids.push(sid.to_owned());
                }
            }
            let full = i64::try_from(sids.len()).unwrap_or(0) == limit;
            let next = if full { sids.last().cloned() } else { None };
            Ok((sids, next))
        })
        .await
    }
}
