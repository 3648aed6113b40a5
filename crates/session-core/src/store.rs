//! The contract every backend implements.

use async_trait::async_trait;

use crate::{Changeset, Record, SessionSummary, StoreKey, Timestamp};

/// Why a store operation failed. Expected outcomes (missing key, duplicate key, version
/// conflict) are not errors: they are [`CreateOutcome`] and [`ApplyOutcome`] values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or failed to answer (network, pool, timeout).
    #[error("session store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend answered, but what it holds for this key cannot be decoded.
    #[error("corrupt session record: {0}")]
    Corrupt(String),
    /// A value could not be encoded for the backend.
    #[error("cannot encode session record: {0}")]
    Encode(String),
    /// Anything else the backend reported.
    #[error("session store error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a connectivity error.
    pub fn unavailable(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Unavailable(e.into())
    }

    /// Wraps any other backend error.
    pub fn backend(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend(e.into())
    }
}

/// The result of [`SessionStore::create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The record was inserted.
    Created,
    /// A record already lives under that key; nothing was written.
    AlreadyExists,
}

/// The result of [`SessionStore::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The changes were written; the record now has this version.
    Applied(u64),
    /// No live record under that key (deleted or expired meanwhile); nothing was written.
    Missing,
    /// An expected version was given and the stored one differs; nothing was written.
    Conflict,
}

/// An async session backend. Object-safe: the manager holds an `Arc<dyn SessionStore>`.
///
/// Run [`crate::test_suite`] (feature `test-suite`) against an implementation to check it
/// keeps this contract.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The live record under `key`, or `None`. Never returns a record whose `expires_at`
    /// has passed, even if the backend has not deleted it yet.
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError>;

    /// Inserts `record`; never overwrites. An existing live record under `key` yields
    /// [`CreateOutcome::AlreadyExists`]. (An expired leftover may be replaced.)
    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError>;

    /// Applies `changes` per key, atomically, in one round trip, and bumps the version.
    ///
    /// Keys not named in `changes` are left as they are, so two requests that write
    /// different keys both survive. With `expected_version`, a differing stored version
    /// yields [`ApplyOutcome::Conflict`]. A missing or expired record yields
    /// [`ApplyOutcome::Missing`] and is never re-created.
    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError>;

    /// Moves the idle deadline only (no data, no version bump). Returns whether a live
    /// record existed.
    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError>;

    /// Removes the record; deleting a missing key is not an error.
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError>;

    /// Removes expired records in bounded batches and returns how many went. Backends with
    /// native expiry return `Ok(0)`.
    async fn delete_expired(&self) -> Result<u64, StoreError>;

    /// The live sessions whose `user` is `user`.
    async fn sessions_of(&self, user: &str) -> Result<Vec<SessionSummary>, StoreError>;

    /// Deletes every session of `user` except `except`; returns how many went.
    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for std::sync::Arc<S> {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        (**self).load(key).await
    }
    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        (**self).create(key, record).await
    }
    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        (**self).apply(key, changes, expected_version).await
    }
    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        (**self).touch(key, expires_at).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
    async fn delete_expired(&self) -> Result<u64, StoreError> {
        (**self).delete_expired().await
    }
    async fn sessions_of(&self, user: &str) -> Result<Vec<SessionSummary>, StoreError> {
        (**self).sessions_of(user).await
    }
    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        (**self).delete_sessions_of(user, except).await
    }
}
