//! `apply`: one `find_one_and_update`, or, when the changeset binds a user, the
//! three-step binding protocol that lets a revocation win against a login in flight.

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use mongodb::options::ReturnDocument;
use session_core::{
    Timestamp,
    store::{ApplyOutcome, Changeset, StoreError, StoreKey},
};

use crate::codec::{self, field};
use crate::error::store_error;
use crate::revoke;
use crate::store::MongoStore;

/// `apply` per the contract: one round trip unless `changes` binds a user.
pub async fn apply(
    store: &MongoStore,
    key: &StoreKey,
    changes: &Changeset,
    expected: Option<u64>,
) -> Result<ApplyOutcome, StoreError> {
    match changes.binds_user() {
        None => plain(store, key, changes, expected).await,
        Some(user) => bind(store, key, user, changes, expected).await,
    }
}

/// The filter of the live record under `key`, at `expected` when given.
pub fn live_at(key: &StoreKey, expected: Option<u64>) -> Document {
    let mut filter = codec::live(key, Timestamp::now());
    if let Some(expected) = expected {
        // Stored versions are never negative, so an expectation too large for an
        // Int64 matches nothing and is classified like any stale version.
        filter.insert(field::VERSION, i64::try_from(expected).unwrap_or(-1));
    }
    filter
}

/// One `find_one_and_update` returning only the new version; never an upsert.
async fn plain(
    store: &MongoStore,
    key: &StoreKey,
    changes: &Changeset,
    expected: Option<u64>,
) -> Result<ApplyOutcome, StoreError> {
    let updated = store
        .sessions
        .find_one_and_update(live_at(key, expected), codec::apply_update(changes)?)
        .return_document(ReturnDocument::After)
        .projection(doc! { field::VERSION: 1 })
        .await
        .map_err(store_error)?;
    match updated {
        Some(document) => Ok(ApplyOutcome::Applied(codec::version(&document)?)),
        None => missed(store, key, expected).await,
    }
}

/// Why a filtered write matched nothing: `Conflict` when a version was expected and a live
/// record exists (with another version), else `Missing`. One `find_one` in strict mode.
async fn missed(
    store: &MongoStore,
    key: &StoreKey,
    expected: Option<u64>,
) -> Result<ApplyOutcome, StoreError> {
    let Some(expected) = expected else {
        return Ok(ApplyOutcome::Missing);
    };
    match store.live_version(key).await? {
        Some(version) if version != expected => Ok(ApplyOutcome::Conflict),
        _ => Ok(ApplyOutcome::Missing),
    }
}

/// A changeset binding `user`, in three round trips:
///
/// 1. push an intent `{u: user, t: token}` into the live record (no other change): from
///    now on a revocation of `user` pulls it;
/// 2. consult `user`'s revocation: refused → pull the intent back, `Missing`;
/// 3. apply the changes with the filter also requiring the intent, pulling it in the same
///    update. A revocation recorded after step 2 pulled the intent before deleting
///    `user`'s sessions, so either this step fails (`Missing`, the record untouched) or it
///    ran first and the revocation's delete finds the record bound to `user`.
async fn bind(
    store: &MongoStore,
    key: &StoreKey,
    user: &str,
    changes: &Changeset,
    expected: Option<u64>,
) -> Result<ApplyOutcome, StoreError> {
    let token = ObjectId::new();
    let intent = doc! { field::BIND_USER: user, field::BIND_TOKEN: token };
    let push = doc! { "$push": { field::BINDS: intent } };
    let marked = store
        .sessions
        .update_one(live_at(key, expected), push)
        .await
        .map_err(store_error)?;
    if marked.matched_count == 0 {
        return missed(store, key, expected).await;
    }
    if revoke::revoked(store, user, changes.began_at, Some(key)).await? {
        drop_intent(store, key, token).await?;
        return Ok(ApplyOutcome::Missing);
    }
    let mut filter = live_at(key, expected);
    filter.insert(format!("{}.{}", field::BINDS, field::BIND_TOKEN), token);
    let mut update = codec::apply_update(changes)?;
    update.insert("$pull", doc! { field::BINDS: { field::BIND_TOKEN: token } });
    let updated = store
        .sessions
        .find_one_and_update(filter, update)
        .return_document(ReturnDocument::After)
        .projection(doc! { field::VERSION: 1 })
        .await
        .map_err(store_error)?;
    if let Some(document) = updated {
        return Ok(ApplyOutcome::Applied(codec::version(&document)?));
    }
    // Deleted or expired, a newer version (strict mode), or the intent pulled by a
    // revocation: the record, if any, is as it was but for our intent.
    let outcome = missed(store, key, expected).await?;
    drop_intent(store, key, token).await?;
    Ok(outcome)
}

/// Pulls the intent `token` out of the record under `key`, if both are still there.
async fn drop_intent(
    store: &MongoStore,
    key: &StoreKey,
    token: ObjectId,
) -> Result<(), StoreError> {
    let pull = doc! { "$pull": { field::BINDS: { field::BIND_TOKEN: token } } };
    store
        .sessions
        .update_one(doc! { field::ID: key.as_str() }, pull)
        .await
        .map(drop)
        .map_err(store_error)
}
