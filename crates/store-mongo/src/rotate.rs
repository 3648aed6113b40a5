//! `rotate`: moving a record to a new `_id` (which MongoDB cannot change in place) in
//! steps that are linearizable against `delete`, `apply` and `delete_sessions_of`. The
//! README ("Rotation and revocation") gives the argument; the steps are:
//!
//! 0. only when the changeset keeps the stored user: read the owner (and version) of `from`;
//! 1. insert a *pending* placeholder under `to`, owned by the resulting user and without
//!    `expires_at`, so nothing loads or updates it, but a revocation of that user deletes it;
//!    a duplicate `_id` that is not an expired leftover is `KeyTaken`;
//! 2. at once: `find_one_and_delete` of `from` filtered on live (+ version, + the owner read
//!    in step 0) — the linearization point, returning the record to merge the changes
//!    into — and the revocation check of the owner;
//! 3. replace the placeholder by the merged record, filtered on its still being pending.
//!
//! Every way out before step 3 succeeds deletes the placeholder again.

use futures_util::future::try_join;
use mongodb::bson::doc;
use session_core::{
    Timestamp,
    store::{Changeset, RotateOutcome, StoreError, StoreKey},
};

use crate::apply::live_at;
use crate::codec::{self, field};
use crate::error::{is_duplicate_key, store_error};
use crate::revoke;
use crate::store::MongoStore;

/// How often a rotation starts over when the session's user changed under it.
const ATTEMPTS: usize = 3;

/// `rotate` per the contract.
pub async fn rotate(
    store: &MongoStore,
    from: &StoreKey,
    to: &StoreKey,
    changes: &Changeset,
    expected: Option<u64>,
) -> Result<RotateOutcome, StoreError> {
    let rotation = Rotation {
        store,
        from,
        to,
        changes,
        expected,
    };
    for _ in 0..ATTEMPTS {
        if let Some(outcome) = rotation.attempt().await? {
            return Ok(outcome);
        }
    }
    Err(StoreError::backend(format!(
        "rotation gave up: the session's user changed {ATTEMPTS} times while rotating"
    )))
}

/// One `rotate` call's arguments.
struct Rotation<'a> {
    store: &'a MongoStore,
    from: &'a StoreKey,
    to: &'a StoreKey,
    changes: &'a Changeset,
    expected: Option<u64>,
}

impl Rotation<'_> {
    /// One run of the protocol; `None` when the owner read in step 0 changed before step 2.
    async fn attempt(&self) -> Result<Option<RotateOutcome>, StoreError> {
        // The owner, and whether step 2 must find it still stored (step 0 read it).
        let (owner, read) = match &self.changes.user {
            Some(user) => (user.clone(), false),
            None => match owner_of(self.store, self.from).await? {
                None => return Ok(Some(RotateOutcome::Missing)),
                Some((_, version)) if self.expected.is_some_and(|v| v != version) => {
                    return Ok(Some(RotateOutcome::Conflict));
                }
                Some((user, _)) => (user, true),
            },
        };
        if !place(self.store, self.to, owner.as_deref()).await? {
            return classify_taken(self.store, self.from, self.expected)
                .await
                .map(Some);
        }
        let outcome = self.finish(owner.as_deref(), read).await;
        if !matches!(outcome, Ok(Some(RotateOutcome::Rotated(_)))) {
            // Best effort: an abandoned placeholder is invisible and its TTL drops it.
            let _ = self
                .store
                .sessions
                .delete_one(codec::pending(self.to))
                .await;
        }
        outcome
    }

    /// Steps 2 and 3 (the placeholder exists).
    async fn finish(
        &self,
        owner: Option<&str>,
        read: bool,
    ) -> Result<Option<RotateOutcome>, StoreError> {
        let mut take = live_at(self.from, self.expected);
        if read {
            take.insert(field::USER, codec::user_bson(owner));
        }
        let taken = async {
            let found = self.store.sessions.find_one_and_delete(take).await;
            found.map_err(store_error)
        };
        let check = async {
            let Some(user) = owner else {
                return Ok(false);
            };
            revoke::revoked(self.store, user, self.changes.began_at, Some(self.from)).await
        };
        let (taken, refused) = try_join(taken, check).await?;
        let Some(old) = taken else {
            return match owner_of(self.store, self.from).await? {
                None => Ok(Some(RotateOutcome::Missing)),
                Some((_, version)) if self.expected.is_some_and(|v| v != version) => {
                    Ok(Some(RotateOutcome::Conflict))
                }
                // Live at the expected version: only the owner filter can have failed, so
                // the user changed since step 0. Start over.
                Some(_) if read => Ok(None),
                Some(_) => Ok(Some(RotateOutcome::Missing)),
            };
        };
        if refused {
            // `from` is gone (step 2 deleted it), and so will be the placeholder.
            return Ok(Some(RotateOutcome::Missing));
        }
        let mut record = codec::doc_to_record(&old)?;
        record.apply(self.changes);
        let merged = codec::record_to_doc(self.to, &record)?;
        let activated = self
            .store
            .sessions
            .replace_one(codec::pending(self.to), merged)
            .await
            .map_err(store_error)?;
        if activated.matched_count == 0 {
            // A revocation of the owner deleted the placeholder: it counts as having come
            // first (see the README).
            return Ok(Some(RotateOutcome::Missing));
        }
        Ok(Some(RotateOutcome::Rotated(record.version)))
    }
}

/// Step 1: inserts the placeholder; `false` when a live record or another placeholder
/// holds `to`. An expired leftover is deleted (only if still expired) and the insert
/// retried once.
async fn place(store: &MongoStore, to: &StoreKey, owner: Option<&str>) -> Result<bool, StoreError> {
    let until = Timestamp::now().add(store.pending_lifetime());
    let placeholder = codec::pending_doc(to, owner, until);
    for retry in [true, false] {
        match store.sessions.insert_one(&placeholder).await {
            Ok(_) => return Ok(true),
            Err(e) if is_duplicate_key(&e) && retry => {
                let expired = doc! {
                    field::ID: to.as_str(),
                    field::EXPIRES_AT: { "$lte": codec::date(Timestamp::now()) },
                };
                let deleted = store
                    .sessions
                    .delete_one(expired)
                    .await
                    .map_err(store_error)?;
                if deleted.deleted_count == 0 {
                    return Ok(false);
                }
            }
            Err(e) if is_duplicate_key(&e) => return Ok(false),
            Err(e) => return Err(store_error(e)),
        }
    }
    Ok(false)
}

/// `to` is taken: the outcome the contract ranks first (`Missing`, then `Conflict`, then
/// `KeyTaken`). Nothing was written.
async fn classify_taken(
    store: &MongoStore,
    from: &StoreKey,
    expected: Option<u64>,
) -> Result<RotateOutcome, StoreError> {
    Ok(match owner_of(store, from).await? {
        None => RotateOutcome::Missing,
        Some((_, version)) if expected.is_some_and(|v| v != version) => RotateOutcome::Conflict,
        Some(_) => RotateOutcome::KeyTaken,
    })
}

/// The user and version of the live record under `key`, if any. One `find_one`.
async fn owner_of(
    store: &MongoStore,
    key: &StoreKey,
) -> Result<Option<(Option<String>, u64)>, StoreError> {
    let found = store
        .sessions
        .find_one(codec::live(key, Timestamp::now()))
        .projection(doc! { field::USER: 1, field::VERSION: 1 })
        .await
        .map_err(store_error)?;
    found
        .map(|doc| Ok((codec::user(&doc)?, codec::version(&doc)?)))
        .transpose()
}
