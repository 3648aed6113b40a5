//! The contract every backend implements.

use async_trait::async_trait;

use crate::{Changeset, PageRequest, Record, SessionPage, StoreKey, Timestamp};

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

/// How long a store keeps the record of a revocation ([`SessionStore::delete_sessions_of`]):
/// a request that began longer ago than this before the revocation may slip past it.
/// Requests do not run for an hour; the record is small and expires on its own.
pub const REVOCATION_HORIZON: std::time::Duration = std::time::Duration::from_secs(3600);

/// The result of [`SessionStore::create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum CreateOutcome {
    /// The record was inserted.
    Created,
    /// A record already lives under that key; nothing was written.
    AlreadyExists,
    /// The record belongs to a user whose sessions were revoked after the record's
    /// `authenticated_at` (or `created_at`); nothing was written.
    Revoked,
}

/// The result of [`SessionStore::rotate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum RotateOutcome {
    /// The record now lives under the new key only, with the changes applied, at this
    /// version; the old key holds nothing.
    Rotated(u64),
    /// No live record under the old key (destroyed, revoked or expired meanwhile), or the
    /// result would belong to a user revoked after the request began: nothing exists
    /// under either key.
    Missing,
    /// An expected version was given and the stored one differs; nothing was written.
    Conflict,
    /// A live record already holds the new key; nothing was written (retry with another).
    KeyTaken,
}

/// The result of [`SessionStore::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
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
/// # Revocation
///
/// [`delete_sessions_of`](Self::delete_sessions_of) is a revocation: besides deleting, it
/// records (for [`REVOCATION_HORIZON`]) that `user`'s sessions were revoked at that instant,
/// except the one it kept. From then on, a write that would leave a live session of `user`
/// is refused when the request behind it began before the revocation: `create` of a record
/// of `user` whose `authenticated_at` (else `created_at`) is earlier ([`CreateOutcome::Revoked`]),
/// `apply` whose changeset binds `user` with an earlier `began_at` ([`ApplyOutcome::Missing`]),
/// and `rotate` whose result belongs to `user` with an earlier `began_at`
/// ([`RotateOutcome::Missing`]) unless it rotates the kept session. So "log out everywhere"
/// wins against every request in flight, logins and rotations included, on stores whose
/// multi-key operations are not atomic as well as on those whose are. Timestamps come from
/// the application's clock (the manager's), not the backend's.
///
/// Run the conformance suite (`session_core::test_suite`, feature `test-suite`) against an implementation to check it
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

    /// Moves the record under `from` to `to`, applying `changes` (per key, like
    /// [`apply`](Self::apply)) in the same step; used to rotate a session id (login,
    /// privilege change, `regenerate`).
    ///
    /// Linearizable against every other operation: if the record under `from` was no longer
    /// live — deleted, revoked or expired, even a moment earlier — nothing is created and
    /// the outcome is [`RotateOutcome::Missing`]; otherwise, once it returns `Rotated`,
    /// `from` holds nothing and `to` holds the record, already in its user's index. A
    /// concurrent [`delete_sessions_of`](Self::delete_sessions_of) either happens first (the
    /// rotation is `Missing`) or sees and deletes `to`. With `expected_version`, a differing
    /// stored version yields [`RotateOutcome::Conflict`] and changes nothing. A live record
    /// under `to` yields [`RotateOutcome::KeyTaken`]. The revocation rule above applies.
    async fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<RotateOutcome, StoreError>;

    /// Moves the idle deadline only (no data, no version bump). Returns whether a live
    /// record existed.
    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError>;

    /// Removes the record; deleting a missing key is not an error.
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError>;

    /// Removes expired records in bounded batches and returns how many went. Backends with
    /// native expiry return `Ok(0)`.
    async fn delete_expired(&self) -> Result<u64, StoreError>;

    /// One page of the live sessions whose `user` is `user`: newest first (`created_at`,
    /// then key, descending), at most `page.limit()` (never more than
    /// [`crate::MAX_SESSIONS_PER_PAGE`]), starting after `page.before()`. The cost of a
    /// call is bounded by the page, not by how many sessions the user has.
    async fn sessions_of(&self, user: &str, page: &PageRequest) -> Result<SessionPage, StoreError>;

    /// Revokes every session of `user` except `except` (see the revocation rule above):
    /// records the revocation, then deletes them; returns how many went. Stores delete in
    /// batches, each within the operation timeout, so a user with very many sessions is
    /// signed out completely however long the whole takes.
    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError>;

    /// Deletes the one session under `key` if it belongs to `user` ("sign out this
    /// device"); returns whether a live session went. A key of another user's session, or
    /// of none, changes nothing and returns `false`. Like [`delete`](Self::delete), a
    /// request in flight on that session cannot bring it back.
    async fn delete_session_of(&self, user: &str, key: &StoreKey) -> Result<bool, StoreError>;

    /// Enforces a cap on `user`'s concurrent sessions after a login created or rotated
    /// `keep`: deletes the user's sessions other than `keep` and the `max - 1` most
    /// recently seen others (`last_seen`, then key, descending); returns how many went.
    ///
    /// One atomic step on every store (a statement, a transaction or a script over the
    /// user's index), so when concurrent logins of one user each call it after their own
    /// write, at most `max` sessions are left once they are done.
    async fn trim_sessions_of(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
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
    async fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<RotateOutcome, StoreError> {
        (**self).rotate(from, to, changes, expected_version).await
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
    async fn sessions_of(&self, user: &str, page: &PageRequest) -> Result<SessionPage, StoreError> {
        (**self).sessions_of(user, page).await
    }
    async fn delete_sessions_of(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        (**self).delete_sessions_of(user, except).await
    }
    async fn delete_session_of(&self, user: &str, key: &StoreKey) -> Result<bool, StoreError> {
        (**self).delete_session_of(user, key).await
    }
    async fn trim_sessions_of(
        &self,
        user: &str,
        keep: &StoreKey,
        max: usize,
    ) -> Result<u64, StoreError> {
        (**self).trim_sessions_of(user, keep, max).await
    }
}
