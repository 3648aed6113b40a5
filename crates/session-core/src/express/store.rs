//! [`ExpressStore`]: any connect-* layout, seen as a [`SessionStore`].
//!
//! A layout ([`ConnectLayout`]) only knows how its backend keeps one express-session
//! record: read it with a compare-and-set token, insert it, replace or delete it only if it
//! is still what was read, move its expiry. Everything else — mapping records and
//! changesets onto the JSON ([`ExpressFormat`]), retrying a compare-and-set that lost a
//! race, rotation — is here, once, for all three stores.
//!
//! # Guarantees, and what differs from the native layouts
//!
//! - **Per-key merge among Rust writers holds**: `apply` reads the record, applies the
//!   changeset to the JSON and writes it back only if the record is still byte-for-byte
//!   what it read; otherwise it reads again and re-applies. Two Rust requests writing
//!   different keys both survive. It costs two round trips (plus one per lost race), not
//!   the native one.
//! - **A Node write is whole-record, last writer wins**: express-session `SET`s the whole
//!   session it loaded at the start of its request. A Rust write that lands between a
//!   Node request's read and write is overwritten by it. A Node write that lands between a
//!   Rust read and write is *not* overwritten: the compare-and-set sees it and re-applies
//!   the Rust changes on top.
//! - **Strict mode sees Rust writes only**: `version` lives in the record's `rustSession`
//!   field and Node keeps it unchanged when it re-saves, so a Node write is no conflict.
//! - **No per-user index**: connect-* layouts have none, so `sessions_of` and
//!   `delete_sessions_of` fail with [`Unsupported`]; no revocation is recorded.
//! - **Rotation** inserts the new id first (never overwriting), then deletes the old one
//!   only if it is unchanged: if the old one was destroyed meanwhile, the new one is
//!   deleted again and the rotation is `Missing`. The two keys can live on different
//!   Redis Cluster slots, so this is two steps, not one atomic script.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::express::ExpressFormat;
use crate::id::random_bytes;
use crate::{
    ApplyOutcome, Changeset, CreateOutcome, Record, RotateOutcome, SessionStore, StoreError,
    StoreKey, Timestamp,
};

/// Compare-and-set attempts before an `apply` or `rotate` gives up (with a
/// [`StoreError::Backend`]) under a storm of concurrent writes to one session.
pub const MAX_CAS_ATTEMPTS: usize = 128;

/// One express-session record as a layout read it.
#[derive(Debug, Clone)]
pub struct Stored<T> {
    /// The session object (`{"cookie": {…}, …}`), parsed.
    pub session: Value,
    /// The store's own expiry for it (TTL, `expire` column, `expires` field).
    pub deadline: Timestamp,
    /// What a compare-and-set compares against: the stored value exactly as read.
    pub token: T,
}

/// How one backend keeps express-session records under their plain session id (`sid`):
/// the part of a connect-* store that differs between Redis, PostgreSQL and MongoDB.
///
/// Every method is one round trip. A record whose deadline has passed is absent for every
/// method, even before the backend removes it.
#[async_trait]
pub trait ConnectLayout: Send + Sync + 'static {
    /// What [`Stored::token`] holds for this backend.
    type Token: Send + Sync;

    /// The live record under `sid`; a value that is not JSON is [`StoreError::Corrupt`].
    async fn read(&self, sid: &str) -> Result<Option<Stored<Self::Token>>, StoreError>;

    /// Inserts `session` unless a live record holds `sid`; `false` when one does.
    async fn insert(
        &self,
        sid: &str,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Replaces the record with `session` if it is still the one `token` was read from;
    /// `false` when it changed or went.
    async fn replace(
        &self,
        sid: &str,
        token: &Self::Token,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Deletes the record if it is still the one `token` was read from; `false` otherwise.
    async fn remove(&self, sid: &str, token: &Self::Token) -> Result<bool, StoreError>;

    /// Moves the expiry of a live record only (connect-*'s `touch`); whether it was live.
    async fn expire(&self, sid: &str, deadline: Timestamp) -> Result<bool, StoreError>;

    /// Deletes the record (connect-*'s `destroy`); idempotent.
    async fn delete(&self, sid: &str) -> Result<(), StoreError>;

    /// Removes expired records where the backend does not; how many went.
    async fn prune(&self) -> Result<u64, StoreError>;

    /// One page of about `page` stored sids (live or not) from `cursor` (`None`: the
    /// start), and the next cursor (`None`: done): for the migration, not for requests.
    async fn list(
        &self,
        cursor: Option<String>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError>;
}

/// What a connect-* layout cannot do (it has no per-user index).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{0} is not supported by an express-session (connect-*) layout: it has no per-user index")]
pub struct Unsupported(pub &'static str);

/// A [`SessionStore`] over a connect-* layout: the sessions an Express app shares.
///
/// Store keys are plain express-session ids ([`crate::SidKeying::Plain`]): configure the
/// manager with [`crate::SessionConfig::express_builder`].
#[derive(Debug, Clone)]
pub struct ExpressStore<L> {
    layout: L,
    format: ExpressFormat,
}

impl<L: ConnectLayout> ExpressStore<L> {
    /// Sessions kept by `layout`, as `format` lays them out.
    pub fn new(layout: L, format: ExpressFormat) -> Self {
        Self { layout, format }
    }

    /// The backend layout.
    pub fn layout(&self) -> &L {
        &self.layout
    }

    /// The record format.
    pub fn format(&self) -> &ExpressFormat {
        &self.format
    }

    /// Reads the record under `sid` with its token, decoded.
    async fn read(
        &self,
        sid: &str,
        now: Timestamp,
    ) -> Result<Option<(Record, Stored<L::Token>)>, StoreError> {
        let Some(stored) = self.layout.read(sid).await? else {
            return Ok(None);
        };
        if stored.deadline <= now {
            return Ok(None);
        }
        let record = self.format.decode(&stored.session, stored.deadline, now)?;
        Ok(Some((record, stored)))
    }

    /// Writes `session` over what `token` read, or deletes it when `deadline` has passed.
    async fn put(
        &self,
        sid: &str,
        token: &L::Token,
        session: &Value,
        deadline: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        if deadline <= now {
            // connect-redis deletes instead of writing a non-positive TTL; so do all three.
            return self.layout.remove(sid, token).await;
        }
        self.layout.replace(sid, token, session, deadline).await
    }
}

/// A short random pause after `attempt` lost compare-and-set races, so that a crowd of
/// writers on one session spreads out.
async fn back_off(attempt: usize) {
    if attempt < 2 {
        return;
    }
    let [r] = random_bytes::<1>();
    let cap = u64::try_from(attempt.min(16)).unwrap_or(16) * 250;
    tokio::time::sleep(Duration::from_micros(u64::from(r) * cap / 255)).await;
}

fn gave_up() -> StoreError {
    StoreError::backend(format!(
        "gave up after {MAX_CAS_ATTEMPTS} compare-and-set attempts against concurrent writers"
    ))
}

#[async_trait]
impl<L: ConnectLayout> SessionStore for ExpressStore<L> {
    async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
        Ok(self
            .read(key.as_str(), Timestamp::now())
            .await?
            .map(|(record, _)| record))
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<CreateOutcome, StoreError> {
        let now = Timestamp::now();
        let session = self.format.encode(record, now)?;
        if record.expires_at <= now {
            // Already dead: nothing to keep (and nothing a later load could return).
            return Ok(CreateOutcome::Created);
        }
        match self
            .layout
            .insert(key.as_str(), &session, record.expires_at)
            .await?
        {
            true => Ok(CreateOutcome::Created),
            false => Ok(CreateOutcome::AlreadyExists),
        }
    }

    async fn apply(
        &self,
        key: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<ApplyOutcome, StoreError> {
        let sid = key.as_str();
        for attempt in 0..MAX_CAS_ATTEMPTS {
            back_off(attempt).await;
            let now = Timestamp::now();
            let Some((record, mut stored)) = self.read(sid, now).await? else {
                return Ok(ApplyOutcome::Missing);
            };
            if expected_version.is_some_and(|v| v != record.version) {
                return Ok(ApplyOutcome::Conflict);
            }
            let version = self.format.apply(&mut stored.session, changes, now)?;
            let put = self.put(sid, &stored.token, &stored.session, changes.expires_at, now);
            if put.await? {
                return Ok(ApplyOutcome::Applied(version));
            }
        }
        Err(gave_up())
    }

    async fn rotate(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected_version: Option<u64>,
    ) -> Result<RotateOutcome, StoreError> {
        let (old, new) = (from.as_str(), to.as_str());
        for attempt in 0..MAX_CAS_ATTEMPTS {
            back_off(attempt).await;
            let now = Timestamp::now();
            let Some((record, mut stored)) = self.read(old, now).await? else {
                return Ok(RotateOutcome::Missing);
            };
            if expected_version.is_some_and(|v| v != record.version) {
                return Ok(RotateOutcome::Conflict);
            }
            let version = self.format.apply(&mut stored.session, changes, now)?;
            if changes.expires_at <= now {
                self.layout.remove(old, &stored.token).await?;
                return Ok(RotateOutcome::Missing);
            }
            if !self
                .layout
                .insert(new, &stored.session, changes.expires_at)
                .await?
            {
                return Ok(RotateOutcome::KeyTaken);
            }
            if self.layout.remove(old, &stored.token).await? {
                return Ok(RotateOutcome::Rotated(version));
            }
            // The old record changed or went after it was read: undo, then look again
            // (gone → Missing; changed → re-apply on top of the change).
            self.layout.delete(new).await?;
        }
        Err(gave_up())
    }

    async fn touch(&self, key: &StoreKey, expires_at: Timestamp) -> Result<bool, StoreError> {
        // connect-*'s touch: the expiry moves, the record is not rewritten (a full write
        // here would clobber a concurrent Node write).
        self.layout.expire(key.as_str(), expires_at).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.layout.delete(key.as_str()).await
    }

    async fn delete_expired(&self) -> Result<u64, StoreError> {
        self.layout.prune().await
    }

    async fn sessions_of(
        &self,
        _user: &str,
        _page: &crate::PageRequest,
    ) -> Result<crate::SessionPage, StoreError> {
        Err(StoreError::backend(Unsupported(
            "listing a user's sessions",
        )))
    }

    async fn delete_sessions_of(
        &self,
        _user: &str,
        _except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        Err(StoreError::backend(Unsupported(
            "revoking a user's sessions",
        )))
    }

    async fn delete_session_of(&self, _user: &str, _key: &StoreKey) -> Result<bool, StoreError> {
        Err(StoreError::backend(Unsupported(
            "revoking one of a user's sessions",
        )))
    }

    async fn trim_sessions_of(
        &self,
        _user: &str,
        _keep: &StoreKey,
        _max: usize,
    ) -> Result<u64, StoreError> {
        Err(StoreError::backend(Unsupported(
            "capping a user's sessions",
        )))
    }
}
