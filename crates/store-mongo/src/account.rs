//! The account page's operations on one user's sessions: a newest-first page, signing
//! one session out, and the per-user cap.

use futures_util::TryStreamExt as _;
use mongodb::bson::{Bson, Document, doc};
use session_core::{
    PageRequest, SessionPage, Timestamp,
    store::{StoreError, StoreKey},
};

use crate::MongoStore;
use crate::codec::{self, field};
use crate::error::store_error;

/// `sessions_of`: one `find` on the `(user, created_at, _id)` index for `limit + 1`
/// documents (the extra one says whether a next page exists).
pub async fn sessions_of(
    store: &MongoStore,
    user: &str,
    page: &PageRequest,
) -> Result<SessionPage, StoreError> {
    let mut filter = codec::live_of_user(user, Timestamp::now());
    if let Some(cursor) = page.before() {
        let at = codec::date(cursor.created_at);
        filter.insert(
            "$or",
            vec![
                Bson::Document(doc! { field::CREATED_AT: { "$lt": at } }),
                Bson::Document(
                    doc! { field::CREATED_AT: at, field::ID: { "$lt": cursor.key.as_str() } },
                ),
            ],
        );
    }
    let rows = i64::try_from(page.limit() + 1).unwrap_or(i64::MAX);
    let documents: Vec<Document> = store
        .sessions
        .find(filter)
        .sort(doc! { field::USER: 1, field::CREATED_AT: -1, field::ID: -1 })
        .limit(rows)
        .projection(codec::summary_projection())
        .await
        .map_err(store_error)?
        .try_collect()
        .await
        .map_err(store_error)?;
    let summaries = documents
        .iter()
        .map(codec::doc_to_summary)
        .collect::<Result<_, _>>()?;
    Ok(page.page_of(summaries))
}

/// `delete_session_of`: one `delete_one` filtered on the key, the owner and liveness (a
/// rotation's placeholder has no `expires_at`, so it never matches).
pub async fn delete_session_of(
    store: &MongoStore,
    user: &str,
    key: &StoreKey,
) -> Result<bool, StoreError> {
    let mut filter = codec::live(key, Timestamp::now());
    filter.insert(field::USER, user);
    let result = store
        .sessions
        .delete_one(filter)
        .await
        .map_err(store_error)?;
    Ok(result.deleted_count > 0)
}

/// `trim_sessions_of`: lists the user's live sessions by `last_seen` (keys only), then
/// deletes all but `keep` and the `max - 1` most recently seen others with one
/// `delete_many`. Two round trips, not one atomic step; but each call lists only after
/// its own login was written and only ever deletes, so once concurrent logins are done the
/// last call to list saw every one of them and left at most `max`.
pub async fn trim_sessions_of(
    store: &MongoStore,
    user: &str,
    keep: &StoreKey,
    max: usize,
) -> Result<u64, StoreError> {
    let mut filter = codec::live_of_user(user, Timestamp::now());
    filter.insert(field::ID, doc! { "$ne": keep.as_str() });
    let others: Vec<Document> = store
        .sessions
        .find(filter)
        .sort(doc! { field::LAST_SEEN: -1, field::ID: -1 })
        .projection(doc! { field::ID: 1 })
        .await
        .map_err(store_error)?
        .try_collect()
        .await
        .map_err(store_error)?;
    let doomed: Vec<&str> = others
        .iter()
        .skip(max.saturating_sub(1))
        .filter_map(|d| d.get_str(field::ID).ok())
        .collect();
    if doomed.is_empty() {
        return Ok(0);
    }
    let mut victims = codec::live_of_user(user, Timestamp::now());
    victims.insert(field::ID, doc! { "$in": doomed });
    let result = store
        .sessions
        .delete_many(victims)
        .await
        .map_err(store_error)?;
    Ok(result.deleted_count)
}
