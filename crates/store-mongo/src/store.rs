//! [`MongoStore`]: the [`SessionStore`] implementation.

use async_trait::async_trait;
use futures_util::TryStreamExt as _;
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;
use mongodb::{Client, Collection};
use session_core::{
    ApplyOutcome, Changeset, CreateOutcome, Record, SessionStore, SessionSummary, StoreError,
    StoreKey, Timestamp,
};

use crate::codec::{self, field};
use crate::error::{is_duplicate_key, store_error};
use crate::schema;

/// The default database name used by examples and `cargo xtask`.
pub const DEFAULT_DATABASE: &str = "sessions";
/// The default collection name.
pub const DEFAULT_COLLECTION: &str = "sessions";

/// A session store keeping one document per session in a MongoDB collection, with native
/// expiry through a TTL index. Cheap to clone (the driver's client is a shared pool).
#[derive(Clone, Debug)]
pub struct MongoStore {
    collection: Collection<Document>,
}

impl MongoStore {
    /// Connects to `uri`, uses `collection` in `database`, and runs [`Self::migrate`].
    ///
    /// The driver connects lazily and reconnects by itself; an unreachable server shows up
    /// here as [`StoreError::Unavailable`] once server selection times out
    /// (`serverSelectionTimeoutMS` in the URI, 30 s by default).
    pub async fn connect(uri: &str, database: &str, collection: &str) -> Result<Self, StoreError> {
        let client = Client::with_uri_str(uri).await.map_err(store_error)?;
        let store = Self::new(client.database(database).collection(collection));
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps an existing collection handle (for custom client options). Call
    /// [`Self::migrate`] once before use so the TTL and user indexes exist.
    pub fn new(collection: Collection<Document>) -> Self {
        Self { collection }
    }

    /// Creates the TTL index on `expires_at` and the index on `user`. Idempotent.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        schema::create_indexes(&self.collection).await
    }

    /// The underlying collection.
    pub fn collection(&self) -> &Collection<Document> {
        &self.collection
    }

    async fn insert(&self, document: &Document) -> Result<CreateOutcome, StoreError> {
        match self.collection.insert_one(document).await {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(e) if is_duplicate_key(&e) => Ok(CreateOutcome::AlreadyExists),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Whether a live record exists under `key` (used only to tell a conflict from a miss).
    async fn exists(&self, key: &StoreKey) -> Result<bool, StoreError> {
        let found = self
            .collection
            .find_one(codec::live(key, Timestamp::now()))
            .projection(doc! { field::ID: 1 })
            .await
            .map_err(store_error)?;
        Ok(found.is_some())
    }
}

#[async_trait]
impl SessionStore for MongoStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        let found = self
            .collection
            .find_one(codec::live(key, Timestamp::now()))
            .await
            .map_err(store_error)?;
        found.as_ref().map(codec::doc_to_record).transpose()
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        let document = codec::record_to_doc(key, record)?;
        if self.insert(&document).await? == CreateOutcome::Created {
            return Ok(CreateOutcome::Created);
        }
        // The key is taken. An expired leftover the TTL monitor has not removed yet may be
        // replaced: delete it only if it is (still) expired, then insert once more.
        let expired = doc! {
            field::ID: key.as_str(),
            field::EXPIRES_AT: { "$lte": codec::date(Timestamp::now()) },
        };
        let deleted = self
            .collection
            .delete_one(expired)
            .await
            .map_err(store_error)?;
        if deleted.deleted_count == 0 {
            return Ok(CreateOutcome::AlreadyExists);
        }
        self.insert(&document).await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        let mut filter = codec::live(key, Timestamp::now());
        if let Some(expected) = expected_version {
            // Stored versions are never negative, so an expectation too large for an
            // Int64 matches nothing and is classified below like any stale version.
            filter.insert(field::VERSION, i64::try_from(expected).unwrap_or(-1));
        }
        let updated = self
            .collection
            .find_one_and_update(filter, codec::apply_update(changes)?)
            .return_document(ReturnDocument::After)
            .projection(doc! { field::VERSION: 1 })
            .await
            .map_err(store_error)?;
        match updated {
            Some(document) => Ok(ApplyOutcome::Applied(codec::version(&document)?)),
            None if expected_version.is_some() && self.exists(key).await? => {
                Ok(ApplyOutcome::Conflict)
            }
            None => Ok(ApplyOutcome::Missing),
        }
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        let update = doc! { "$set": { field::EXPIRES_AT: codec::date(expires_at) } };
        let result = self
            .collection
            .update_one(codec::live(key, Timestamp::now()), update)
            .await
            .map_err(store_error)?;
        Ok(result.matched_count > 0)
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.collection
            .delete_one(doc! { field::ID: key.as_str() })
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        // The TTL index on `expires_at` makes the server delete expired documents itself.
        Ok(0)
    }

    async fn sessions_of(&self, user: &str) -> Result<Vec<SessionSummary>, StoreError> {
        let filter = codec::live_of_user(user, Timestamp::now());
        let documents: Vec<Document> = self
            .collection
            .find(filter)
            .projection(doc! { field::ID: 1, field::CREATED_AT: 1, field::EXPIRES_AT: 1 })
            .await
            .map_err(store_error)?
            .try_collect()
            .await
            .map_err(store_error)?;
        documents.iter().map(codec::doc_to_summary).collect()
    }

    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        // Live sessions only, so the count is exact; expired ones go with the TTL monitor.
        let mut filter = codec::live_of_user(user, Timestamp::now());
        if let Some(except) = except {
            filter.insert(field::ID, doc! { "$ne": except.as_str() });
        }
        let result = self
            .collection
            .delete_many(filter)
            .await
            .map_err(store_error)?;
        Ok(result.deleted_count)
    }
}
