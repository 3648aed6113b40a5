//! [`MongoStore`]: the [`SessionStore`] implementation.

use std::time::Duration;

use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection};
use session_core::{
    PageRequest, SessionPage, Timestamp,
    store::{
        ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreError,
        StoreKey,
    },
};

use crate::codec::{self, field};
use crate::error::{is_duplicate_key, store_error};
use crate::timeout::{
    DEFAULT_DRIVER_TIMEOUT, DEFAULT_HEARTBEAT, DEFAULT_OPERATION_TIMEOUT, bounded,
};
use crate::{account, apply, revoke, rotate, schema};

/// The default database name used by examples and `cargo xtask`.
pub const DEFAULT_DATABASE: &str = "sessions";
/// The default collection name.
pub const DEFAULT_COLLECTION: &str = "sessions";
/// What [`MongoStore::new`] appends to the sessions collection's name to name the
/// revocations collection (in the same database): `sessions` → `sessions_revocations`.
pub const REVOCATIONS_SUFFIX: &str = "_revocations";

/// How much longer than one operation a rotation's pending placeholder may outlive an
/// abandoned rotation before the TTL monitor may drop it.
const PENDING_GRACE: Duration = Duration::from_secs(60);

/// A session store keeping one document per session in a MongoDB collection, with native
/// expiry through a TTL index, and each user's latest revocation in a second collection.
/// Cheap to clone (the driver's client is a shared pool).
#[derive(Clone, Debug)]
pub struct MongoStore {
    pub(crate) sessions: Collection<Document>,
    pub(crate) revocations: Collection<Document>,
    timeout: Duration,
}

impl MongoStore {
    /// Connects to `uri`, uses `collection` in `database`, and runs [`Self::migrate`].
    ///
    /// Unless the URI names them (`connectTimeoutMS`, `serverSelectionTimeoutMS`), the
    /// driver's connect and server-selection timeouts are set to
    /// [`DEFAULT_DRIVER_TIMEOUT`](crate::DEFAULT_DRIVER_TIMEOUT) instead of the driver's
    /// 30 s. The driver connects lazily and reconnects by itself; an unreachable server
    /// shows up here, and in every later operation, as [`StoreError::Unavailable`] within
    /// the operation timeout.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::store::StoreError> {
    /// use store_mongo::MongoStore;
    ///
    /// let uri = std::env::var("MONGO_URI").unwrap_or("mongodb://127.0.0.1:27017".into());
    /// // Creates the TTL and user indexes on first use.
    /// let store = MongoStore::connect(&uri, "myapp", "sessions").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(uri: &str, database: &str, collection: &str) -> Result<Self, StoreError> {
        let options = bounded(DEFAULT_OPERATION_TIMEOUT, async {
            ClientOptions::parse(uri).await.map_err(store_error)
        })
        .await?;
        let store = Self::with_client_options(options, database, collection)?;
        store.migrate().await?;
        Ok(store)
    }

    fn with_client_options(
        mut options: ClientOptions,
        database: &str,
        collection: &str,
    ) -> Result<Self, StoreError> {
        options
            .connect_timeout
            .get_or_insert(DEFAULT_DRIVER_TIMEOUT);
        options
            .server_selection_timeout
            .get_or_insert(DEFAULT_DRIVER_TIMEOUT);
        // A server that stopped answering (frozen, or a network that drops everything) is
        // marked unavailable until the monitor's next check succeeds; our operation bound
        // cancels requests without telling the monitor, so its heartbeat sets how soon the
        // store recovers. The driver's 10 s would keep sessions down that long after the
        // server is back.
        options.heartbeat_freq.get_or_insert(DEFAULT_HEARTBEAT);
        let client = Client::with_options(options).map_err(store_error)?;
        Ok(Self::new(client.database(database).collection(collection)))
    }

    /// Wraps an existing collection handle (for custom client options); revocations go
    /// to the collection of the same name plus [`REVOCATIONS_SUFFIX`] in the same
    /// database (see [`Self::with_revocations`]). Call [`Self::migrate`] once before use
    /// so the indexes exist.
    ///
    /// The client's own timeouts are left as they are; every operation is still bounded
    /// by the operation timeout ([`Self::with_operation_timeout`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use store_mongo::{MongoStore, mongodb::Client};
    ///
    /// let uri = std::env::var("MONGO_URI").unwrap_or("mongodb://127.0.0.1:27017".into());
    /// let client = Client::with_uri_str(&uri).await?;
    /// let store = MongoStore::new(client.database("myapp").collection("sessions"));
    /// store.migrate().await?;
    /// # Ok(()) }
    /// ```
    pub fn new(collection: Collection<Document>) -> Self {
        let namespace = collection.namespace();
        let revocations = collection
            .client()
            .database(&namespace.db)
            .collection(&format!("{}{REVOCATIONS_SUFFIX}", namespace.coll));
        Self {
            sessions: collection,
            revocations,
            timeout: DEFAULT_OPERATION_TIMEOUT,
        }
    }

    /// This store with every operation bounded by `limit` instead of
    /// [`DEFAULT_OPERATION_TIMEOUT`](crate::DEFAULT_OPERATION_TIMEOUT) (4 s): an operation
    /// that has not finished by then, all its round trips included, fails with
    /// [`StoreError::Unavailable`]. Keep the driver's server-selection timeout below it so
    /// an outage reports the driver's own error.
    #[must_use]
    pub fn with_operation_timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// This store with revocations kept in `revocations` instead of the default
    /// collection (see [`Self::new`]). Run [`Self::migrate`] afterwards.
    #[must_use]
    pub fn with_revocations(mut self, revocations: Collection<Document>) -> Self {
        self.revocations = revocations;
        self
    }

    /// The bound on one operation (see [`Self::with_operation_timeout`]).
    pub fn operation_timeout(&self) -> Duration {
        self.timeout
    }

    /// Creates the indexes of both collections (TTL on `expires_at` and `pending_until`,
    /// `user`, `binds.u`; TTL on the revocations' `at`). Idempotent.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        bounded(
            self.timeout,
            schema::create_indexes(&self.sessions, &self.revocations),
        )
        .await
    }

    /// The underlying sessions collection.
    pub fn collection(&self) -> &Collection<Document> {
        &self.sessions
    }

    /// The collection holding each user's latest revocation.
    pub fn revocation_collection(&self) -> &Collection<Document> {
        &self.revocations
    }

    /// How long a rotation's placeholder lives if the rotation is abandoned.
    pub(crate) fn pending_lifetime(&self) -> Duration {
        self.timeout.saturating_add(PENDING_GRACE)
    }

    /// The version of the live record under `key`, if any. One `find_one`.
    pub(crate) async fn live_version(&self, key: &StoreKey) -> Result<Option<u64>, StoreError> {
        let found = self
            .sessions
            .find_one(codec::live(key, Timestamp::now()))
            .projection(doc! { field::VERSION: 1 })
            .await
            .map_err(store_error)?;
        found.as_ref().map(codec::version).transpose()
    }

    async fn insert(&self, document: &Document) -> Result<CreateOutcome, StoreError> {
        match self.sessions.insert_one(document).await {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(e) if is_duplicate_key(&e) => Ok(CreateOutcome::AlreadyExists),
            Err(e) => Err(store_error(e)),
        }
    }

    /// `insert_one`; over an expired leftover the TTL monitor has not removed yet, deletes
    /// it (only if it is still expired) and inserts once more.
    async fn insert_over_expired(
        &self,
        key: &StoreKey,
        document: &Document,
    ) -> Result<CreateOutcome, StoreError> {
        if self.insert(document).await? == CreateOutcome::Created {
            return Ok(CreateOutcome::Created);
        }
        let expired = doc! {
            field::ID: key.as_str(),
            field::EXPIRES_AT: { "$lte": codec::date(Timestamp::now()) },
        };
        let deleted = self
            .sessions
            .delete_one(expired)
            .await
            .map_err(store_error)?;
        if deleted.deleted_count == 0 {
            return Ok(CreateOutcome::AlreadyExists);
        }
        self.insert(document).await
    }

    /// `create`: the insert, then — for a record with a user — the revocation check, after
    /// the insert so that a revocation the check misses deletes the new record.
    async fn create_checked(
        &self,
        key: &StoreKey,
        record: &Record,
    ) -> Result<CreateOutcome, StoreError> {
        let document = codec::record_to_doc(key, record)?;
        let outcome = self.insert_over_expired(key, &document).await?;
        let Some(user) = record.user.as_deref() else {
            return Ok(outcome);
        };
        if outcome != CreateOutcome::Created {
            return Ok(outcome);
        }
        let since = record.authenticated_at.unwrap_or(record.created_at);
        if !revoke::revoked(self, user, since, None).await? {
            return Ok(CreateOutcome::Created);
        }
        self.sessions
            .delete_one(doc! { field::ID: key.as_str() })
            .await
            .map_err(store_error)?;
        Ok(CreateOutcome::Revoked)
    }
}

#[async_trait]
impl SessionStore for MongoStore {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        bounded(self.timeout, async {
            let found = self
                .sessions
                .find_one(codec::live(key, Timestamp::now()))
                .await
                .map_err(store_error)?;
            found.as_ref().map(codec::doc_to_record).transpose()
        })
        .await
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        bounded(self.timeout, self.create_checked(key, record)).await
    }

    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        let applying = apply::apply(self, key, changes, expected_version);
        bounded(self.timeout, applying).await
    }

    async fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<RotateOutcome, StoreError> {
        let rotating = rotate::rotate(self, from, to, changes, expected_version);
        bounded(self.timeout, rotating).await
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        bounded(self.timeout, async {
            let now = codec::date(Timestamp::now());
            let update = doc! {
                "$set": { field::EXPIRES_AT: codec::date(expires_at), field::LAST_SEEN: now },
            };
            let result = self
                .sessions
                .update_one(codec::live(key, Timestamp::now()), update)
                .await
                .map_err(store_error)?;
            Ok(result.matched_count > 0)
        })
        .await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        bounded(self.timeout, async {
            self.sessions
                .delete_one(doc! { field::ID: key.as_str() })
                .await
                .map(drop)
                .map_err(store_error)
        })
        .await
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        // The TTL indexes make the server delete expired documents itself.
        Ok(0)
    }

    async fn sessions_of(&self, user: &str, page: &PageRequest) -> Result<SessionPage, StoreError> {
        bounded(self.timeout, account::sessions_of(self, user, page)).await
    }

    async fn delete_session_of(&self, user: &str, key: &StoreKey) -> Result<bool, StoreError> {
        bounded(self.timeout, account::delete_session_of(self, user, key)).await
    }

    async fn trim_sessions_of(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
    ) -> Result<u64, StoreError> {
        let trimming = account::trim_sessions_of(self, user, keep, max);
        bounded(self.timeout, trimming).await
    }

    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        let revoking = revoke::delete_sessions_of(self, user, except);
        bounded(self.timeout, revoking).await
    }
}
