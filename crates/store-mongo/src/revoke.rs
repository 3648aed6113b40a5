//! Revocations: `delete_sessions_of` records one per user, and every write that would
//! leave a live session of that user consults it (the rule on [`session_core::store::SessionStore`]).
//!
//! ```text
//! revocations: { _id: "<user>", at: Date, kept: "<store key>" | null }   // TTL on `at`
//! ```
//!
//! Only a user's latest revocation is kept; an older one never overwrites a later one.

use futures_util::future::try_join;
use mongodb::Collection;
use mongodb::bson::{Bson, Document, doc};
use session_core::{
    Timestamp,
    store::{REVOCATION_HORIZON, StoreError, StoreKey},
};

use crate::codec::{self, field};
use crate::error::{is_duplicate_key, store_error};
use crate::store::MongoStore;

/// Field names of a revocation document.
pub mod rfield {
    /// The revoked user.
    pub const ID: &str = "_id";
    /// When the revocation happened (application clock, BSON date); carries the TTL index.
    pub const AT: &str = "at";
    /// The store key of the session it kept, or null.
    pub const KEPT: &str = "kept";
}

/// Records that `user` was revoked at `at`, keeping `kept`, unless a later revocation of
/// `user` is on record already (then the upsert's insert hits the duplicate `_id`).
async fn record(
    revocations: &Collection<Document>,
    user: &str,
    at: Timestamp,
    kept: Option<&StoreKey>,
) -> Result<(), StoreError> {
    let filter = doc! { rfield::ID: user, rfield::AT: { "$lte": codec::date(at) } };
    let kept = kept.map_or(Bson::Null, |k| Bson::String(k.as_str().to_owned()));
    let update = doc! { "$set": { rfield::AT: codec::date(at), rfield::KEPT: kept } };
    match revocations.update_one(filter, update).upsert(true).await {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_key(&e) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

/// The revocation rule: whether `user` was revoked after `began_at` (within
/// [`REVOCATION_HORIZON`]), other than by a revocation that kept `from`. One `find_one`.
pub async fn revoked(
    store: &MongoStore,
    user: &str,
    began_at: Timestamp,
    from: Option<&StoreKey>,
) -> Result<bool, StoreError> {
    let found = store
        .revocations
        .find_one(doc! { rfield::ID: user })
        .await
        .map_err(store_error)?;
    let Some(doc) = found else {
        return Ok(false);
    };
    let at = doc
        .get_datetime(rfield::AT)
        .map(|d| Timestamp::from_millis(d.timestamp_millis()))
        .map_err(|_| StoreError::Corrupt("revocation `at` is not a date".to_owned()))?;
    let kept = match doc.get(rfield::KEPT) {
        None | Some(Bson::Null) => None,
        Some(Bson::String(k)) => Some(k.as_str()),
        Some(_) => {
            return Err(StoreError::Corrupt(
                "revocation `kept` is not a string".into(),
            ));
        }
    };
    let horizon = Timestamp::now().sub(REVOCATION_HORIZON);
    let kept_from = from.is_some_and(|f| kept == Some(f.as_str()));
    Ok(at > began_at && at > horizon && !kept_from)
}

/// `delete_sessions_of`: three rounds, in this order (the README says why the order
/// matters).
///
/// 1. record the revocation;
/// 2. at once: pull `user`'s binding intents out of every session (a binding `apply` in
///    flight then fails its final step), and delete `user`'s pending rotation placeholders
///    (a rotation in flight then fails its activation);
/// 3. delete `user`'s live sessions, counting them.
///
/// The session `except` is spared by all three.
pub async fn delete_sessions_of(
    store: &MongoStore,
    user: &str,
    except: Option<&StoreKey>,
) -> Result<u64, StoreError> {
    record(&store.revocations, user, Timestamp::now(), except).await?;
    let spare = |mut filter: Document| {
        if let Some(except) = except {
            filter.insert(field::ID, doc! { "$ne": except.as_str() });
        }
        filter
    };
    let intents = spare(doc! { format!("{}.{}", field::BINDS, field::BIND_USER): user });
    let pull = doc! { "$pull": { field::BINDS: { field::BIND_USER: user } } };
    let pending = spare(doc! { field::USER: user, field::PENDING_UNTIL: { "$exists": true } });
    try_join(
        async { store.sessions.update_many(intents, pull).await },
        async { store.sessions.delete_many(pending).await },
    )
    .await
    .map_err(store_error)?;
    // Live sessions only, so the count is exact; expired ones go with the TTL monitor.
    let live = spare(codec::live_of_user(user, Timestamp::now()));
    let result = store
        .sessions
        .delete_many(live)
        .await
        .map_err(store_error)?;
    Ok(result.deleted_count)
}
